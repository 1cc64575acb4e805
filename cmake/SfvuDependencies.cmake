# All dependencies come from Debian packages (see .ci/install-deps.sh).
find_package(PkgConfig REQUIRED)
pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET
  libavformat libavcodec libavutil libswscale libavdevice)

find_package(Threads REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(ICU REQUIRED COMPONENTS uc)  # the CLIP tokenizer: Unicode properties, lower-casing
find_package(ZLIB REQUIRED)
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs videoio highgui)  # highgui: `sfvu stream --window`
find_package(Boost REQUIRED COMPONENTS program_options)

# libtorch: Debian's libtorch-dev (CPU) or the official CUDA build via -DTorch_DIR / CMAKE_PREFIX_PATH.
find_package(Torch REQUIRED)
# Torch's exported flags contain -D_GLIBCXX_USE_CXX11_ABI; keep them, drop nothing else.
add_library(sfvu_torch INTERFACE)
target_link_libraries(sfvu_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(sfvu_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
