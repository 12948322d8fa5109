/* util.c -- allocation that never fails, strings, UTF-8. */
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "util.h"

static void
oom(void)
{
	fputs("fatal: out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void	*p = realloc(old, n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p = xmalloc(n + 1);

	/* msgpack-c gives an empty str a NULL pointer: no memcpy from NULL. */
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char	*s;

	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	return s;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

size_t
strlcpy_mf(char *dst, const char *src, size_t size)
{
	size_t	len = strlen(src);

	if (size > 0) {
		size_t	n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

int
utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned int	c = *p, cp;
		size_t		n, i;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return 0;
		if ((size_t)(end - p) <= n)
			return 0;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

size_t
utf8_length(const char *s, size_t len)
{
	size_t	i, n = 0;

	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	}
	return n;
}

int
has_control_chars(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i;

	for (i = 0; i < len; i++) {
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' &&
		    p[i] != '\r') || p[i] == 0x7f)
			return 1;
		/* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F. */
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0x9f)
			return 1;
	}
	return 0;
}

int
mkdir_p(const char *path, unsigned int mode)
{
	char	*p = xstrdup(path), *s;
	int	 saved;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			goto fail;
		*s = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST)
		goto fail;
	free(p);
	return 0;
fail:
	saved = errno;
	free(p);
	errno = saved;
	return -1;
}

ssize_t
evbuffer_read_some(struct evbuffer *buf, int fd, size_t max)
{
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	size_t			 got;
	ssize_t			 n;
	int			 nv, i;

	if ((nv = evbuffer_reserve_space(buf, (ev_ssize_t)max, v, 2)) <= 0) {
		errno = ENOMEM;
		return -1;
	}
	for (i = 0, got = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
		if (iov[i].iov_len > max - got)
			iov[i].iov_len = max - got;
		got += iov[i].iov_len;
	}
	if ((n = readv(fd, iov, nv)) <= 0)
		return n;
	for (i = 0, got = (size_t)n; i < nv; i++) {
		if (v[i].iov_len > got)
			v[i].iov_len = got;
		got -= v[i].iov_len;
	}
	if (evbuffer_commit_space(buf, v, nv) != 0) {
		errno = ENOMEM;
		return -1;
	}
	return n;
}
