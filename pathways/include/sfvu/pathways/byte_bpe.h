// sfvu/pathways/byte_bpe.h: placeholder, being written (issue 9)
#pragma once
