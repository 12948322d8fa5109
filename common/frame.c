/* frame.c -- the frame codec and the pre-unpack validator. */
#include <string.h>

#include "frame.h"
#include "proto.h"

void
frame_limits_default(struct frame_limits *lim)
{
	lim->max_frame = FRAME_MAX_DEFAULT;
	lim->max_depth = FRAME_DEPTH_MAX;
	lim->max_str = FRAME_STR_MAX;
	lim->max_elements = FRAME_ELEMENTS_MAX;
}

uint32_t
frame_header_length(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

void
frame_header_write(unsigned char *p, uint32_t len)
{
	p[0] = (unsigned char)(len >> 24);
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
}

static uint64_t
read_be(const unsigned char *p, size_t n)
{
	uint64_t	v = 0;
	size_t		i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

int
frame_validate(const unsigned char *buf, size_t len,
    const struct frame_limits *lim, int want_map, const char **cause)
{
	uint64_t	remaining[FRAME_DEPTH_MAX + 2];
	size_t		pos = 0, elements = 0;
	int		depth = 0, max_depth;

	max_depth = lim->max_depth;
	if (max_depth > FRAME_DEPTH_MAX)
		max_depth = FRAME_DEPTH_MAX;
	if (len == 0) {
		*cause = "empty frame";
		return -1;
	}
	if (len > lim->max_frame) {
		*cause = "frame too large";
		return -1;
	}
	if (want_map && !((buf[0] >= 0x80 && buf[0] <= 0x8f) ||
	    buf[0] == 0xde || buf[0] == 0xdf)) {
		*cause = "frame is not a map";
		return -1;
	}

	remaining[0] = 1;
	while (depth >= 0) {
		unsigned int	b;
		uint64_t	items = 0, skip = 0;
		size_t		hdr = 1, need = 0;
		int		container = 0;

		if (remaining[depth] == 0) {
			depth--;
			continue;
		}
		remaining[depth]--;
		if (pos >= len) {
			*cause = "truncated msgpack";
			return -1;
		}
		b = buf[pos];
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 ||
		    b == 0xc3) {
			/* fixint, nil, bool */
		} else if (b >= 0x80 && b <= 0x8f) {
			items = (uint64_t)(b & 0x0f) * 2;
			container = 1;
		} else if (b >= 0x90 && b <= 0x9f) {
			items = b & 0x0f;
			container = 1;
		} else if (b >= 0xa0 && b <= 0xbf) {
			skip = b & 0x1f;
		} else {
			switch (b) {
			case 0xc4: case 0xd9: need = 1; break;	/* bin8 str8 */
			case 0xc5: case 0xda: need = 2; break;	/* bin16 str16 */
			case 0xc6: case 0xdb: need = 4; break;	/* bin32 str32 */
			case 0xca: skip = 4; break;		/* float32 */
			case 0xcb: skip = 8; break;		/* float64 */
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: skip = 4; break;
			case 0xcf: case 0xd3: skip = 8; break;
			case 0xdc: case 0xde: need = 2; container = 1; break;
			case 0xdd: case 0xdf: need = 4; container = 1; break;
			default:
				/* 0xc1 is never used; ext types are not part of our protocol. */
				*cause = "unsupported msgpack type";
				return -1;
			}
			if (need > 0) {
				if (len - pos - 1 < need) {
					*cause = "truncated msgpack";
					return -1;
				}
				hdr += need;
				if (container) {
					items = read_be(buf + pos + 1, need);
					if (b == 0xde || b == 0xdf)
						items *= 2;
				} else
					skip = read_be(buf + pos + 1, need);
			}
		}
		pos += hdr;
		if (container) {
			/* Each element takes at least one byte. */
			if (items > len - pos) {
				*cause = "declared count exceeds frame";
				return -1;
			}
			elements += items;
			if (elements > lim->max_elements) {
				*cause = "too many elements";
				return -1;
			}
			if (depth + 1 > max_depth) {
				*cause = "nesting too deep";
				return -1;
			}
			remaining[++depth] = items;
			continue;
		}
		if ((b >= 0xa0 && b <= 0xbf) || b == 0xc4 || b == 0xc5 ||
		    b == 0xc6 || b == 0xd9 || b == 0xda || b == 0xdb) {
			if (skip > lim->max_str) {
				*cause = "string too long";
				return -1;
			}
		}
		if (skip > len - pos) {
			*cause = "truncated msgpack";
			return -1;
		}
		pos += skip;
	}
	if (pos != len) {
		*cause = "trailing bytes after msgpack object";
		return -1;
	}
	return 0;
}

int
frame_decode(const unsigned char *buf, size_t len,
    const struct frame_limits *lim, msgpack_unpacked *unpacked,
    const char **cause)
{
	size_t			off = 0;
	msgpack_unpack_return	ret;

	if (frame_validate(buf, len, lim, 1, cause) != 0)
		return -1;
	ret = msgpack_unpack_next(unpacked, (const char *)buf, len, &off);
	if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
		*cause = "malformed msgpack";
		return -1;
	}
	return 0;
}

int
frame_decode_zone(const unsigned char *buf, size_t len,
    const struct frame_limits *lim, msgpack_zone *zone, msgpack_object *obj,
    const char **cause)
{
	size_t			off = 0;
	msgpack_unpack_return	ret;

	if (frame_validate(buf, len, lim, 1, cause) != 0)
		return -1;
	/* msgpack_unpack is msgpack-c's call for a zone of one's own. */
	ret = msgpack_unpack((const char *)buf, len, &off, zone, obj);
	if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
		*cause = "malformed msgpack";
		return -1;
	}
	return 0;
}

void
frame_wrap(msgpack_sbuffer *out, const char *body, size_t len)
{
	unsigned char	hdr[FRAME_HEADER_SIZE];

	frame_header_write(hdr, (uint32_t)len);
	msgpack_sbuffer_write(out, (const char *)hdr, sizeof hdr);
	msgpack_sbuffer_write(out, body, len);
}
