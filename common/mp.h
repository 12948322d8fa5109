/* mp.h -- small helpers over msgpack-c for reading maps and packing replies. */
#ifndef MF_MP_H
#define MF_MP_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* The value for key in a map object, or NULL. */
const msgpack_object *mp_map_get(const msgpack_object *, const char *);
/* 1 if the object is a str equal to s. */
int	 mp_str_eq(const msgpack_object *, const char *);
/* Integer value of a positive or negative int object into *v; -1 if not an int. */
int	 mp_int(const msgpack_object *, int64_t *);

void	 mp_pack_str(msgpack_packer *, const char *);
void	 mp_pack_strn(msgpack_packer *, const char *, size_t);
/* A str, or nil when s is NULL. */
void	 mp_pack_str_or_nil(msgpack_packer *, const char *);
void	 mp_pack_kv_str(msgpack_packer *, const char *, const char *);
void	 mp_pack_kv_int(msgpack_packer *, const char *, int64_t);
/* An integer that is 0 when absent: v, or nil for 0. */
void	 mp_pack_kv_opt_int(msgpack_packer *, const char *, int64_t);
void	 mp_pack_kv_bool(msgpack_packer *, const char *, int);
void	 mp_pack_kv_nil(msgpack_packer *, const char *);

#endif
