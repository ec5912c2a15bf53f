/* What the codecs share. */
#ifndef EDO_CODEC_CODEC_INTERNAL_H
#define EDO_CODEC_CODEC_INTERNAL_H

#include "edo/codec.h"

/* frame_clear for the codecs whose frames are edo_bytes. */
void edo__codec_bytes_frame_clear(edo_codec *c, void *frame);

#endif
