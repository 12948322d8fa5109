/* net.c -- a blocking protocol connection. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "frame.h"
#include "json.h"
#include "mp.h"
#include "net.h"
#include "proto.h"
#include "util.h"

#define HANDSHAKE_TIMEOUT_MS	30000

static int	read_raw(struct mf_client *, size_t, int);
static int	open_records(struct mf_client *);
static int	known_servers_find(const char *, const char *, char **, int *);
static int	known_servers_add(const char *, const char *, const char *,
		    char **);

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
	channel_free(c->chan);
	c->chan = NULL;
	free(c->raw);
	c->raw = NULL;
	c->rawlen = c->rawcap = 0;
}

/* --- the secure channel --- */

/* Reads raw bytes until c->raw holds want of them; 0, -1 (closed or
 * failed) or -2 (timeout). */
static int
read_raw(struct mf_client *c, size_t want, int timeout_ms)
{
	ssize_t	n;

	while (c->rawlen < want) {
		if (timeout_ms >= 0) {
			struct pollfd	pfd = { .fd = c->fd, .events = POLLIN };
			int		rc = poll(&pfd, 1, timeout_ms);

			if (rc == 0)
				return -2;
			if (rc < 0 && errno != EINTR)
				return -1;
		}
		if (c->rawcap - c->rawlen < 65536) {
			c->rawcap = c->rawcap ? c->rawcap * 2 : 131072;
			c->raw = xrealloc(c->raw, c->rawcap);
		}
		n = recv(c->fd, c->raw + c->rawlen, c->rawcap - c->rawlen, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c->rawlen += (size_t)n;
	}
	return 0;
}

/* Opens the whole records in c->raw into c->buf; the number opened, or -1
 * when one is bad (the connection is finished then). */
static int
open_records(struct mf_client *c)
{
	const char	*cause;
	size_t		 rlen, plen, off = 0;
	int		 opened = 0;

	while (c->rawlen - off >= CHANNEL_LENGTH_LEN) {
		if ((rlen = channel_record_length(c->chan, c->raw + off,
		    &cause)) == 0)
			return -1;
		if (c->rawlen - off < rlen)
			break;
		if (c->cap - c->len < rlen) {
			c->cap = c->len + rlen + 131072;
			c->buf = xrealloc(c->buf, c->cap);
		}
		if (channel_open(c->chan, c->raw + off, rlen, c->buf + c->len,
		    &plen, &cause) != 0)
			return -1;
		c->len += plen;
		off += rlen;
		opened++;
	}
	c->rawlen -= off;
	memmove(c->raw, c->raw + off, c->rawlen);
	return opened;
}

/* Normalises a fingerprint for comparison: trims blanks, adds "SHA256:". */
static char *
fingerprint_clean(const char *fp)
{
	size_t	n;

	while (*fp == ' ' || *fp == '\t')
		fp++;
	n = strlen(fp);
	while (n > 0 && (fp[n - 1] == ' ' || fp[n - 1] == '\t' ||
	    fp[n - 1] == '\n' || fp[n - 1] == '\r'))
		n--;
	if (strncmp(fp, "SHA256:", 7) == 0)
		return xstrndup(fp, n);
	return xasprintf("SHA256:%.*s", (int)n, fp);
}

/* The pinned fingerprint of hostport and its line number: 1 found, 0 not,
 * -1 the file cannot be read. */
static int
known_servers_find(const char *path, const char *hostport, char **fp, int *line)
{
	FILE	*f;
	char	 buf[1024], *s, *name, *val;
	int	 lineno = 0, found = 0;

	if ((f = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : -1;
	while (!found && fgets(buf, sizeof buf, f) != NULL) {
		lineno++;
		s = buf + strspn(buf, " \t");
		if (*s == '#' || *s == '\n' || *s == '\0')
			continue;
		name = strsep(&s, " \t");
		if (s == NULL || strcmp(name, hostport) != 0)
			continue;
		val = s + strspn(s, " \t");
		val[strcspn(val, " \t\r\n")] = '\0';
		*fp = fingerprint_clean(val);
		*line = lineno;
		found = 1;
	}
	fclose(f);
	return found;
}

static int
known_servers_add(const char *path, const char *hostport, const char *fp,
    char **cause)
{
	char	*dir = xstrdup(path), *slash, *line;
	int	 fd, rc = -1;
	ssize_t	 n;

	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir, 0700) != 0) {
			*cause = xasprintf("%s: %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
	}
	free(dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	line = xasprintf("%s %s\n", hostport, fp);
	/* One write with O_APPEND: two clients pinning at once do not mix. */
	if (fchmod(fd, 0600) == 0 &&
	    (n = write(fd, line, strlen(line))) == (ssize_t)strlen(line))
		rc = 0;
	else
		*cause = xasprintf("%s: %s", path, strerror(errno));
	if (close(fd) != 0 && rc == 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(line);
	return rc;
}

static char *
key_changed_message(const char *hostport, const char *want, const char *got,
    const char *where)
{
	return xasprintf(
	    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
	    "@    WARNING: THE SERVER'S KEY HAS CHANGED!               @\n"
	    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
	    "The server at %s did not present the key this client trusts.\n"
	    "Someone could be intercepting the connection (a man-in-the-middle\n"
	    "attack), or the server's key was replaced.\n"
	    "  expected: %s\n"
	    "            (%s)\n"
	    "  received: %s\n"
	    "Nothing was sent to the server. Ask the clinic's administrator for\n"
	    "the key's fingerprint (mediflowd --fingerprint on the server); if it\n"
	    "is the new one, remove the old pin and connect again.",
	    hostport, want, where, got);
}

int
mfc_trust_check(const struct mfc_trust *t, const char *hostport,
    const char *fingerprint, char **cause)
{
	char	*want, *where;
	int	 line = 0, rc;

	if (t->fingerprint != NULL && *t->fingerprint != '\0') {
		want = fingerprint_clean(t->fingerprint);
		rc = strcmp(want, fingerprint) == 0 ? MFC_OK : MFC_KEY_CHANGED;
		if (rc != MFC_OK)
			*cause = key_changed_message(hostport, want, fingerprint,
			    "set in the client's settings");
		free(want);
		return rc;
	}
	if (t->known_servers != NULL) {
		want = NULL;
		rc = known_servers_find(t->known_servers, hostport, &want, &line);
		if (rc < 0) {
			*cause = xasprintf("%s: %s", t->known_servers, strerror(errno));
			return MFC_ERROR;
		}
		if (rc == 1) {
			rc = strcmp(want, fingerprint) == 0 ? MFC_OK : MFC_KEY_CHANGED;
			if (rc != MFC_OK) {
				where = xasprintf("pinned in %s, line %d",
				    t->known_servers, line);
				*cause = key_changed_message(hostport, want,
				    fingerprint, where);
				free(where);
			}
			free(want);
			return rc;
		}
	}
	if (!t->trust_new && (t->ask == NULL ||
	    !t->ask(hostport, fingerprint, t->ask_arg))) {
		*cause = xasprintf("the server at %s has a key this client has not "
		    "seen before:\n  %s\nnot trusted. Check it with the clinic's "
		    "administrator (mediflowd --fingerprint), then connect from a "
		    "terminal and accept it, or use --trust-new-key, or set it as "
		    "fingerprint = ... in client.conf.", hostport, fingerprint);
		return MFC_KEY_UNTRUSTED;
	}
	if (t->known_servers != NULL &&
	    known_servers_add(t->known_servers, hostport, fingerprint, cause) != 0)
		return MFC_ERROR;
	return 1;
}

int
mfc_connect_secure(struct mf_client *c, const char *hostport,
    const struct mfc_trust *t, char **cause)
{
	unsigned char	 hello[CHANNEL_CLIENT_HELLO_MAX];
	unsigned char	 finish[CHANNEL_CLIENT_FINISH_MAX];
	unsigned char	 server_pk[CHANNEL_KEY_LEN];
	const char	*why;
	size_t		 hlen, flen;
	int		 timeout = t->timeout_ms > 0 ? t->timeout_ms :
			     HANDSHAKE_TIMEOUT_MS, rc;

	/* Idempotent; picks libsodium's fastest code for this CPU. */
	if (sodium_init() < 0) {
		*cause = xstrdup("libsodium failed to initialise");
		return MFC_ERROR;
	}
	if (mfc_connect(c, hostport, cause) != 0)
		return MFC_ERROR;
	c->chan = channel_new();
	hlen = channel_client_hello(c->chan, t->channel_offer != 0 ?
	    t->channel_offer : channel_suites_available(), hello);
	if (mfc_write_raw(c, hello, hlen) != 0) {
		*cause = xasprintf("%s: %s", hostport, strerror(errno));
		goto fail;
	}
	/* Fail closed: whatever answers, only the right key goes further. */
	rc = read_raw(c, CHANNEL_SERVER_HELLO_PEEK, timeout);
	if (rc == 0 && (hlen = channel_server_hello_length(c->chan, c->raw,
	    &why)) != 0)
		rc = read_raw(c, hlen, timeout);
	else if (rc == 0) {
		*cause = xasprintf("%s: %s", hostport, why);
		goto fail;
	}
	if (rc != 0) {
		*cause = xasprintf("%s %s during the encrypted handshake", hostport,
		    rc == -2 ? "did not answer" : "closed the connection");
		goto fail;
	}
	if (channel_client_finish(c->chan, c->raw, hlen, server_pk, finish,
	    &flen, &why) != 0) {
		*cause = xasprintf("%s: %s", hostport, why);
		goto fail;
	}
	c->rawlen -= hlen;
	memmove(c->raw, c->raw + hlen, c->rawlen);
	channel_fingerprint(server_pk, c->fingerprint);
	rc = mfc_trust_check(t, hostport, c->fingerprint, cause);
	if (rc < 0) {
		mfc_close(c);
		return rc;
	}
	c->key_new = rc == 1;
	/* Hc2s; AES-256-GCM has none, its first record follows the pin. */
	if (flen > 0 && mfc_write_raw(c, finish, flen) != 0) {
		*cause = xasprintf("%s: %s", hostport, strerror(errno));
		goto fail;
	}
	return MFC_OK;

fail:
	mfc_close(c);
	return MFC_ERROR;
}

int
mfc_write(struct mf_client *c, const void *data, size_t len)
{
	const unsigned char	*p = data;
	unsigned char		*out;
	size_t			 n, slen, olen = 0;
	int			 rc;

	if (c->chan == NULL)
		return mfc_write_raw(c, data, len);
	out = xmalloc(len + (len / CHANNEL_RECORD_MAX + 1) *
	    CHANNEL_RECORD_OVERHEAD);
	while (len > 0) {
		n = len < CHANNEL_RECORD_MAX ? len : CHANNEL_RECORD_MAX;
		if ((slen = channel_seal(c->chan, p, n, out + olen)) == 0) {
			free(out);
			errno = EPIPE;	/* the channel is spent */
			return -1;
		}
		olen += slen;
		p += n;
		len -= n;
	}
	rc = mfc_write_raw(c, out, olen);
	free(out);
	return rc;
}

int
mfc_write_raw(struct mf_client *c, const void *data, size_t len)
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
	unsigned char	hdr[FRAME_HEADER_SIZE] = { 0 };
	int		rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	/* Room for the header, so the frame leaves in one write (one record). */
	msgpack_sbuffer_write(&sb, (const char *)hdr, sizeof hdr);
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
	frame_header_write((unsigned char *)sb.data,
	    (uint32_t)(sb.size - FRAME_HEADER_SIZE));
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
		if (c->chan != NULL) {
			int	opened = open_records(c);

			if (opened < 0)
				return -1;
			if (opened > 0)
				continue;
		}
		if (timeout_ms >= 0) {
			struct pollfd	pfd = { .fd = c->fd, .events = POLLIN };
			int		rc = poll(&pfd, 1, timeout_ms);

			if (rc == 0)
				return -2;
			if (rc < 0 && errno != EINTR)
				return -1;
		}
		if (c->chan != NULL) {
			/* Whatever the kernel has; poll said there is some. */
			int	rc = read_raw(c, c->rawlen + 1, -1);

			if (rc != 0)
				return rc;
			continue;
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
