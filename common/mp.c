/* mp.c -- small helpers over msgpack-c. */
#include <string.h>

#include "mp.h"

const msgpack_object *
mp_map_get(const msgpack_object *map, const char *key)
{
	size_t		 klen = strlen(key);
	uint32_t	 i;

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR &&
		    kv->key.via.str.size == klen &&
		    memcmp(kv->key.via.str.ptr, key, klen) == 0)
			return &kv->val;
	}
	return NULL;
}

int
mp_str_eq(const msgpack_object *o, const char *s)
{
	size_t	len = strlen(s);

	return o != NULL && o->type == MSGPACK_OBJECT_STR &&
	    o->via.str.size == len && memcmp(o->via.str.ptr, s, len) == 0;
}

int
mp_int(const msgpack_object *o, int64_t *v)
{
	if (o == NULL)
		return -1;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return -1;
		*v = (int64_t)o->via.u64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return 0;
	}
	return -1;
}

void
mp_pack_strn(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

void
mp_pack_str(msgpack_packer *pk, const char *s)
{
	mp_pack_strn(pk, s, strlen(s));
}

void
mp_pack_str_or_nil(msgpack_packer *pk, const char *s)
{
	if (s == NULL)
		msgpack_pack_nil(pk);
	else
		mp_pack_str(pk, s);
}

void
mp_pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	mp_pack_str(pk, k);
	mp_pack_str_or_nil(pk, v);
}

void
mp_pack_kv_int(msgpack_packer *pk, const char *k, int64_t v)
{
	mp_pack_str(pk, k);
	msgpack_pack_int64(pk, v);
}

void
mp_pack_kv_opt_int(msgpack_packer *pk, const char *k, int64_t v)
{
	mp_pack_str(pk, k);
	if (v != 0)
		msgpack_pack_int64(pk, v);
	else
		msgpack_pack_nil(pk);
}

void
mp_pack_kv_bool(msgpack_packer *pk, const char *k, int v)
{
	mp_pack_str(pk, k);
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

void
mp_pack_kv_nil(msgpack_packer *pk, const char *k)
{
	mp_pack_str(pk, k);
	msgpack_pack_nil(pk);
}
