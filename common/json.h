/* json.h -- converting between JSON (jansson) and msgpack, for the call mode
 * and the HTTP adapter. Binary values become base64 strings in JSON. */
#ifndef MF_JSON_H
#define MF_JSON_H

#include <jansson.h>
#include <msgpack.h>

/* Packs a JSON value. Integers stay integers, reals become float64. */
void	 json_to_msgpack(const json_t *, msgpack_packer *);
/* Returns a new reference; depth is bounded by the frame validator upstream. */
json_t	*msgpack_to_json(const msgpack_object *);

#endif
