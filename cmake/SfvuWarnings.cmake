# sfvu_warnings(target): -Wall -Wextra on our own code only (third-party headers are SYSTEM).
function(sfvu_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(SFVU_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
