/* util.h -- allocation that never fails, strings, UTF-8. */
#ifndef MF_UTIL_H
#define MF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/types.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* These abort on out-of-memory, so callers never check for NULL. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
/* Returns a newly allocated formatted string; the caller frees it. */
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char	*xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));

/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t	 strlcpy_mf(char *, const char *, size_t);

/* 1 if the bytes are well-formed UTF-8 with no NUL, 0 otherwise. */
int	 utf8_valid(const char *, size_t);
/* Number of code points in valid UTF-8. */
size_t	 utf8_length(const char *, size_t);
/* 1 if the bytes contain C0/C1 control characters other than \t \n \r. */
int	 has_control_chars(const char *, size_t);

/* Creates a directory and its parents; 0, or -1 with errno. */
int	 mkdir_p(const char *, unsigned int mode);

struct evbuffer;
/*
 * Reads what fd has, at most max bytes, onto the end of buf with one readv:
 * libevent's evbuffer_read asks the kernel first how much is waiting (an
 * ioctl FIONREAD before every read). The bytes read, 0 at end of file, or
 * -1 with errno (ENOMEM when buf could not grow).
 */
ssize_t	 evbuffer_read_some(struct evbuffer *, int fd, size_t max);

#endif
