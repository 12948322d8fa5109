/* json.c -- converting between JSON (jansson) and msgpack. */
#include <string.h>

#include <sodium.h>

#include "json.h"
#include "util.h"

void
json_to_msgpack(const json_t *j, msgpack_packer *pk)
{
	const char	*key;
	json_t		*val;
	size_t		 i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(j));
		json_object_foreach((json_t *)j, key, val) {
			msgpack_pack_str(pk, strlen(key));
			msgpack_pack_str_body(pk, key, strlen(key));
			json_to_msgpack(val, pk);
		}
		break;
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(j));
		for (i = 0; i < json_array_size(j); i++)
			json_to_msgpack(json_array_get(j, i), pk);
		break;
	case JSON_STRING:
		msgpack_pack_str(pk, json_string_length(j));
		msgpack_pack_str_body(pk, json_string_value(j),
		    json_string_length(j));
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(j));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(j));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	case JSON_NULL:
		msgpack_pack_nil(pk);
		break;
	}
}

json_t *
msgpack_to_json(const msgpack_object *o)
{
	json_t		*j;
	char		*s;
	size_t		 n;
	uint32_t	 i;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX)
			return json_real((double)o->via.u64);
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer(o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		/* msgpack-c gives "" a NULL pointer, which jansson refuses. */
		return json_stringn_nocheck(o->via.str.size > 0 ?
		    o->via.str.ptr : "", o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		n = sodium_base64_encoded_len(o->via.bin.size,
		    sodium_base64_VARIANT_ORIGINAL);
		s = xmalloc(n);
		sodium_bin2base64(s, n, (const unsigned char *)o->via.bin.ptr,
		    o->via.bin.size, sodium_base64_VARIANT_ORIGINAL);
		j = json_string(s);
		free(s);
		return j;
	case MSGPACK_OBJECT_ARRAY:
		j = json_array();
		for (i = 0; i < o->via.array.size; i++)
			json_array_append_new(j, msgpack_to_json(&o->via.array.ptr[i]));
		return j;
	case MSGPACK_OBJECT_MAP:
		j = json_object();
		for (i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			char	*k;

			if (kv->key.type != MSGPACK_OBJECT_STR)
				continue;
			k = xstrndup(kv->key.via.str.ptr, kv->key.via.str.size);
			json_object_set_new(j, k, msgpack_to_json(&kv->val));
			free(k);
		}
		return j;
	default:
		return json_null();
	}
}
