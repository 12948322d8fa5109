/* harness.h -- integration tests: a private mediflowd on a loopback port and
 * a blocking client that speaks the real protocol.
 *
 * Every helper that can fail asserts through cmocka, naming the test's file
 * and line, so a test reads as a list of requests and expected answers. */
#ifndef MF_HARNESS_H
#define MF_HARNESS_H

#include <sys/types.h>

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "net.h"

/* Demo accounts (server/demo.c); they all share this password. */
#define DEMO_PASSWORD	"password123"
#define DEMO_ADMIN	"admin@test.com"
#define DEMO_RECEPTION	"receptionist@test.com"
#define DEMO_DOCTOR	"doctor@test.com"
#define DEMO_PATIENT	"patient@test.com"

/* Passes the policy (length, dictionary, similarity to the e-mail). */
#define STRONG_PASSWORD	"Vq7#mLp2@xNe9!kR"
#define STRONG_PASSWORD2 "Hz4$tWq8&cJu3?bY"

/* A reply that takes longer than this is a hang, not a slow server
 * (times test_time_scale(): valgrind runs the server 20 times slower). */
#define CALL_TIMEOUT_MS	(20000 * test_time_scale())

struct tsrv {
	pid_t	 pid;
	int	 port;
	char	 addr[64];		/* "127.0.0.1:PORT" */
	char	 dir[256];		/* the data dir, removed by srv_stop */
	char	 db_path[PATH_MAX];	/* dir/mediflow.db */
	char	 log_path[PATH_MAX];	/* the server's stderr */
	int	 out_fd;		/* the read end of the server's stdout */
	int	 reaped;		/* waitpid has collected status */
	int	 status;
	int	 http_port;		/* with tsrv_opts.http: the HTTP adapter's */
	char	 http_url[64];		/* "http://127.0.0.1:PORT" */
	int	 keep_dir;		/* the caller's dir: not removed */
};

struct tsrv_opts {
	const char *const	*args;		/* extra flags, NULL-terminated */
	const char *const	*env;		/* "MEDIFLOW_X=value", NULL-terminated */
	const char		*config;	/* config file text, or NULL */
	int			 no_demo;	/* start without --demo */
	int			 no_test_clock;	/* start without --test-clock */
	int			 http;		/* also --http 127.0.0.1:0 */
	const char		*data_dir;	/* an existing dir to use (srv_stop
						 * keeps it), or NULL: a new temp one */
};

/* The build directory ($O, default "build"). */
const char	*test_build_dir(void);
/* Removes a directory tree (the temp dirs tests make), quietly. */
void		 rm_tree(const char *);
/* $MF_TEST_TIME_SCALE (default 1): how many times slower than usual the
 * server runs (make valgrind sets it); the harness's timeouts, and a test's
 * loose real-time bounds, are multiplied by it. */
int		 test_time_scale(void);
/* $MF_TEST_WEAK_HASHES=1 (make valgrind sets it): servers with --test-clock
 * also get --test-weak-hashes, libsodium's minimum argon2id cost. */
int		 test_weak_hashes(void);

/* Starts "$O/mediflowd --listen 127.0.0.1:0 --data-dir TMP --demo
 * --test-clock [--test-weak-hashes] [--config TMP/mediflowd.conf] [args]"
 * and waits for its port; opts may be NULL. Asserts. */
void	 srv_start(struct tsrv *, const struct tsrv_opts *);
/* SIGTERM, waits, asserts a clean exit 0, removes the data dir. */
void	 srv_stop(struct tsrv *);
/* SIGKILL (a crash or a power cut, as far as the store can tell) and reap;
 * keeps the data dir. */
void	 srv_kill(struct tsrv *);
/* 1 while the process runs. */
int	 srv_alive(struct tsrv *);
/* VmRSS from /proc/PID/status in KiB, or -1. */
long	 srv_rss_kb(const struct tsrv *);

/* A protocol connection and the last reply it got. */
struct tcli {
	struct mf_client	 mc;
	json_t			*reply;		/* owned; replaced by the next call */
};

/* Connects without hello (asserts). */
void	 cli_connect(struct tcli *, const struct tsrv *);
/* Connects and says hello {version: 1} (asserts). */
void	 cli_open(struct tcli *, const struct tsrv *);
void	 cli_close(struct tcli *);

/*
 * Sends op with args packed by jansson's json_pack from fmt (NULL: no args)
 * and returns the whole reply, borrowed until the next call on this client,
 * or NULL when the connection closed or timed out.
 */
json_t	*cli_call(struct tcli *, const char *op, const char *fmt, ...);
json_t	*cli_vcall(struct tcli *, const char *op, const char *fmt, va_list);
/* The same with a ready JSON object (the reference is stolen). */
json_t	*cli_call_json(struct tcli *, const char *op, json_t *args);

/* Asserting forms: the result (or error object), borrowed like cli_call's. */
#define call_ok(c, op, ...) \
	h_call_ok(__FILE__, __LINE__, (c), (op), __VA_ARGS__)
#define call_err(c, op, code, ...) \
	h_call_err(__FILE__, __LINE__, (c), (op), (code), __VA_ARGS__)
json_t	*h_call_ok(const char *, int, struct tcli *, const char *op,
	     const char *fmt, ...);
json_t	*h_call_err(const char *, int, struct tcli *, const char *op,
	     const char *code, const char *fmt, ...);
/* Checks a reply already received. */
#define reply_ok(reply)		h_reply_ok(__FILE__, __LINE__, (reply))
#define reply_err(reply, code)	h_reply_err(__FILE__, __LINE__, (reply), (code))
json_t	*h_reply_ok(const char *, int, json_t *reply);
json_t	*h_reply_err(const char *, int, json_t *reply, const char *code);

/* Logs in and returns the session token (allocated; the caller frees). */
#define cli_login(c, email, password) \
	h_login(__FILE__, __LINE__, (c), (email), (password))
char	*h_login(const char *, int, struct tcli *, const char *email,
	     const char *password);
/* Opens a connection and logs in as email with the demo password. */
void	 cli_open_as(struct tcli *, const struct tsrv *, const char *email);
/* Moves the server clock forward (test.clock). */
#define clock_forward(c, seconds) \
	h_clock_forward(__FILE__, __LINE__, (c), (seconds))
void	 h_clock_forward(const char *, int, struct tcli *, int64_t);

/* A value by dotted path ("user.role"), or NULL; borrowed. */
json_t		*jpath(json_t *, const char *path);
/* The string (or NULL) and integer (or -1) at a dotted path. */
const char	*jstr(json_t *, const char *path);
int64_t		 jint(json_t *, const char *path);
#define assert_jstr(obj, path, want) \
	h_assert_jstr(__FILE__, __LINE__, (obj), (path), (want))
void		 h_assert_jstr(const char *, int, json_t *, const char *,
		     const char *);

/* "prefix-N-PID@example.org", unique within the run (static buffer per call
 * is not enough: returns an allocated string the caller frees). */
char	*unique_email(const char *prefix);
/* A string of n copies of ch; allocated. */
char	*repeat_char(char ch, size_t n);

#endif
