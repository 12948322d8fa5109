/* frame.h -- the frame codec: u32 big-endian length, then one msgpack map.
 *
 * msgpack-c trusts the element counts a header announces (an array32 header
 * may claim four billion entries), so every frame is walked and checked here
 * before msgpack-c is allowed to unpack it. */
#ifndef MF_FRAME_H
#define MF_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct frame_limits {
	size_t	max_frame;	/* bytes of msgpack after the header */
	int	max_depth;	/* nesting of arrays and maps */
	size_t	max_str;	/* bytes of one str or bin */
	size_t	max_elements;	/* array items, map keys and map values, in all */
};

void	frame_limits_default(struct frame_limits *);

/* Reads the length from a 4-byte header. */
uint32_t frame_header_length(const unsigned char *);
void	 frame_header_write(unsigned char *, uint32_t);

/*
 * Checks that buf holds exactly one msgpack object within the limits, that
 * every declared count fits in the bytes left, and (if want_map) that the
 * object is a map. Returns 0, or -1 with a static reason in *cause.
 */
int	 frame_validate(const unsigned char *, size_t, const struct frame_limits *,
	     int want_map, const char **cause);

/*
 * Validates, then unpacks into *unpacked (which the caller initialised with
 * msgpack_unpacked_init and destroys). Strings in the result point into buf,
 * which must outlive them. Returns 0 or -1 with *cause.
 */
int	 frame_decode(const unsigned char *, size_t, const struct frame_limits *,
	     msgpack_unpacked *, const char **cause);

/*
 * The same into a zone the caller keeps and clears between frames (the
 * server's requests): no fresh 8 KiB zone per frame. The objects live in
 * zone (and point into buf) until it is cleared. Returns 0 or -1 with
 * *cause; on -1 the zone may hold garbage for the caller to clear.
 */
int	 frame_decode_zone(const unsigned char *, size_t,
	     const struct frame_limits *, msgpack_zone *, msgpack_object *,
	     const char **cause);

/* Encodes a whole frame (header + body) into sbuf from an already packed body. */
void	 frame_wrap(msgpack_sbuffer *out, const char *body, size_t len);

#endif
