// zlib, for gzip-compressing push bodies in the client core (the system's libz: zlib1g-dev
// on Debian, part of every Apple platform).
#include <zlib.h>
