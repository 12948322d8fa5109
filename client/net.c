/* net.c -- a blocking protocol connection. */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "json.h"
#include "mp.h"
#include "net.h"
#include "proto.h"
#include "util.h"

int
mfc_connect(struct mf_client *c, const char *hostport, char **cause)
{
	struct addrinfo	 hints, *res, *ai;
	char		*host, *port;
	int		 fd = -1, one = 1, rc;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->next_id = 1;
	msgpack_unpacked_init(&c->last);
	frame_limits_default(&c->limits);
	c->limits.max_frame = 64 * 1024 * 1024;

	host = xstrdup(hostport);
	if ((port = strrchr(host, ':')) == NULL) {
		*cause = xasprintf("bad server address (want HOST:PORT): %s", hostport);
		free(host);
		return -1;
	}
	*port++ = '\0';
	if (host[0] == '[' && port - host >= 3 && port[-2] == ']') {
		port[-2] = '\0';
		memmove(host, host + 1, strlen(host + 1) + 1);
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		*cause = xasprintf("%s: %s", hostport, gai_strerror(rc));
		free(host);
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		*cause = xasprintf("cannot connect to %s: %s", hostport, strerror(errno));
		free(host);
		return -1;
	}
	free(host);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd;
	return 0;
}

void
mfc_close(struct mf_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	msgpack_unpacked_destroy(&c->last);
	free(c->buf);
	free(c->frame);
	c->buf = c->frame = NULL;
	c->len = c->cap = 0;
}

int
mfc_write(struct mf_client *c, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
mfc_send(struct mf_client *c, const char *op, const char *args, size_t argslen,
    uint64_t *id)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;
	unsigned char	hdr[FRAME_HEADER_SIZE];
	int		rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	*id = c->next_id++;
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, *id);
	mp_pack_kv_str(&pk, "op", op);
	mp_pack_str(&pk, "args");
	if (args != NULL && argslen > 0)
		msgpack_sbuffer_write(&sb, args, argslen);
	else
		msgpack_pack_map(&pk, 0);
	frame_header_write(hdr, (uint32_t)sb.size);
	rc = mfc_write(c, hdr, sizeof hdr);
	if (rc == 0)
		rc = mfc_write(c, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

int
mfc_read(struct mf_client *c, int timeout_ms, const msgpack_object **obj)
{
	const char	*cause;
	uint32_t	 flen;
	ssize_t		 n;

	for (;;) {
		if (c->len >= FRAME_HEADER_SIZE) {
			flen = frame_header_length(c->buf);
			if (flen > c->limits.max_frame)
				return -1;
			if (c->len >= FRAME_HEADER_SIZE + (size_t)flen) {
				free(c->frame);
				c->frame = xmalloc(flen ? flen : 1);
				memcpy(c->frame, c->buf + FRAME_HEADER_SIZE, flen);
				c->len -= FRAME_HEADER_SIZE + flen;
				memmove(c->buf, c->buf + FRAME_HEADER_SIZE + flen, c->len);
				msgpack_unpacked_destroy(&c->last);
				msgpack_unpacked_init(&c->last);
				if (frame_decode(c->frame, flen, &c->limits, &c->last,
				    &cause) != 0)
					return -1;
				*obj = &c->last.data;
				return 0;
			}
		}
		if (timeout_ms >= 0) {
			struct pollfd	pfd = { .fd = c->fd, .events = POLLIN };
			int		rc = poll(&pfd, 1, timeout_ms);

			if (rc == 0)
				return -2;
			if (rc < 0 && errno != EINTR)
				return -1;
		}
		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 131072;
			c->buf = xrealloc(c->buf, c->cap);
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

int
mfc_call(struct mf_client *c, const char *op, const char *args, size_t argslen,
    int timeout_ms, const msgpack_object **reply)
{
	const msgpack_object	*o, *id;
	uint64_t		 want;
	int			 rc;

	if (mfc_send(c, op, args, argslen, &want) != 0)
		return -1;
	for (;;) {
		if ((rc = mfc_read(c, timeout_ms, &o)) != 0)
			return rc;
		id = mp_map_get(o, "id");
		if (id == NULL) {
			if (c->on_event != NULL)
				c->on_event(o, c->on_event_arg);
			continue;
		}
		/* id 0: the server's answer to a frame it could not read. */
		if ((id->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    id->via.u64 == want) || (id->type ==
		    MSGPACK_OBJECT_POSITIVE_INTEGER && id->via.u64 == 0)) {
			*reply = o;
			return 0;
		}
	}
}

json_t *
mfc_call_json(struct mf_client *c, const char *op, const json_t *args,
    int timeout_ms)
{
	const msgpack_object	*reply;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	int			 rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (args != NULL)
		json_to_msgpack(args, &pk);
	rc = mfc_call(c, op, sb.data, sb.size, timeout_ms, &reply);
	msgpack_sbuffer_destroy(&sb);
	if (rc != 0)
		return NULL;
	return msgpack_to_json(reply);
}
