#ifndef PORTICO_CZLIB_SHIM_H
#define PORTICO_CZLIB_SHIM_H

#include <zlib.h>

// zlib's init functions are macros (they pass the library version and the stream's size), which
// Swift cannot call; these wrappers can be.
static inline int portico_deflateInit2(z_streamp stream, int level, int windowBits, int memLevel) {
    return deflateInit2(stream, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}

static inline int portico_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}

#endif
