/* The check every stream call makes of its stream (defined in stream.c, with the calls). */
#ifndef EDO_STREAM_VALID_H
#define EDO_STREAM_VALID_H

#include <stdbool.h>

#include "edo/stream.h"

/* A stream that may be used: a vtable with the entries every stream has (poll_read,
 * poll_write, close). */
bool edo__stream_is_valid(const edo_stream *s);

#endif
