/* test_files.c -- record attachments against a real mediflowd: chunked
 * upload and download with sha256, the content check, what aborted, refused,
 * abandoned and killed uploads leave behind (nothing), the size limit at
 * exactly 10 MiB, the upload rate limit, and who may touch whose files.
 *
 * One server (a small max_file_bytes, so the fast tests stay fast) for most
 * of the file; the 10 MiB boundary and the SIGKILL get servers of their own. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "harness.h"
#include "json.h"
#include "mp.h"
#include "util.h"

#define SMALL_MAX	(64 * 1024)
#define CHUNK		(256 * 1024)
#define OTHER_PATIENT	"emily.johnson@test.com"

static const char *const demo_doctors[] = {
	DEMO_DOCTOR, "m.okafor@test.com", "p.raman@test.com"
};

static struct tsrv	srv;
static int64_t		john;		/* the demo patient */
static const char	*own_doctor;	/* had an appointment with john */
static const char	*other_doctor;	/* never had one */
static int64_t		rec;		/* a record of john's */

/* --- helpers --- */

static void
sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char	md[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(md, p, n);
	sodium_bin2hex(out, 65, md, sizeof md);
}

/* Sends op with a ready msgpack args map; the reply as JSON in c->reply. */
static json_t *
call_packed(struct tcli *c, const char *op, msgpack_sbuffer *sb)
{
	const msgpack_object	*reply;

	json_decref(c->reply);
	c->reply = NULL;
	if (mfc_call(&c->mc, op, sb->data, sb->size, CALL_TIMEOUT_MS, &reply) == 0)
		c->reply = msgpack_to_json(reply);
	msgpack_sbuffer_destroy(sb);
	return c->reply;
}

/* files.chunk with bytes as msgpack bin. */
static json_t *
chunk(struct tcli *c, const char *upload_id, int64_t offset, const void *p,
    size_t n)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_str(&pk, "upload_id", upload_id);
	mp_pack_kv_int(&pk, "offset", offset);
	mp_pack_str(&pk, "bytes");
	msgpack_pack_bin(&pk, n);
	msgpack_pack_bin_body(&pk, p, n);
	return call_packed(c, "files.chunk", &sb);
}

/* files.begin; the upload id (allocated). */
static char *
begin(struct tcli *c, int64_t record_id, const char *name, const char *mime,
    size_t size)
{
	json_t	*res;

	res = call_ok(c, "files.begin", "{s:I, s:s, s:s, s:I}", "record_id",
	    (json_int_t)record_id, "name", name, "mime", mime, "size",
	    (json_int_t)size);
	assert_int_equal(jint(res, "chunk_max"), CHUNK);
	assert_non_null(jstr(res, "upload_id"));
	return xstrdup(jstr(res, "upload_id"));
}

/* Sends all of data in chunks of step bytes (asserting each). */
static void
send_all(struct tcli *c, const char *id, const unsigned char *data, size_t n,
    size_t step)
{
	size_t	off, len;

	for (off = 0; off < n; off += len) {
		len = n - off < step ? n - off : step;
		assert_int_equal(jint(reply_ok(chunk(c, id, (int64_t)off, data + off,
		    len)), "received"), (int64_t)(off + len));
	}
}

/*
 * Uploads data to record_id and commits with its sha256 (or with sha when
 * given); the commit's reply, borrowed.
 */
static json_t *
upload(struct tcli *c, int64_t record_id, const char *name, const char *mime,
    const unsigned char *data, size_t n, size_t step, const char *sha)
{
	char	 hex[65], *id;
	json_t	*reply;

	id = begin(c, record_id, name, mime, n);
	send_all(c, id, data, n, step);
	sha256_hex(data, n, hex);
	reply = cli_call(c, "files.commit", "{s:s, s:s}", "upload_id", id,
	    "sha256", sha != NULL ? sha : hex);
	free(id);
	return reply;
}

/* Downloads file_id in pieces of step bytes; allocated, *n its size. */
static unsigned char *
download(struct tcli *c, int64_t file_id, size_t step, size_t *n)
{
	unsigned char	*buf = NULL;
	size_t		 len = 0, got;
	int64_t		 total;
	json_t		*res;
	const char	*b64;

	do {
		res = call_ok(c, "files.get", "{s:I, s:I, s:I}", "file_id",
		    (json_int_t)file_id, "offset", (json_int_t)len, "length",
		    (json_int_t)step);
		total = jint(res, "total");
		assert_int_equal(jint(res, "offset"), (int64_t)len);
		b64 = jstr(res, "bytes");
		assert_non_null(b64);
		buf = xrealloc(buf, len + strlen(b64) + 1);
		assert_int_equal(sodium_base642bin(buf + len, strlen(b64) + 1, b64,
		    strlen(b64), NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
		assert_true(got > 0);
		len += got;
	} while ((int64_t)len < total);
	*n = len;
	return buf;
}

/* Entries in DIR/sub, not counting . and .. */
static int
dir_entries(const char *dir, const char *sub)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof path, "%s/%s", dir, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* How many rows the files table has, seen as the own doctor. */
static int64_t
files_total(struct tcli *doctor)
{
	return jint(call_ok(doctor, "files.list", "{s:I}", "patient_id",
	    (json_int_t)john), "total");
}

/* Bytes that start like a PNG (or PDF, JPEG) and go on at random. */
static unsigned char *
fake(const char *kind, size_t n)
{
	static const unsigned char png[8] = {
		0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'
	};
	unsigned char	*p = xmalloc(n);
	size_t		 i;

	randombytes_buf(p, n);
	if (strcmp(kind, "png") == 0)
		memcpy(p, png, n < 8 ? n : 8);
	else if (strcmp(kind, "pdf") == 0)
		memcpy(p, "%PDF-1.7\n", n < 9 ? n : 9);
	else if (strcmp(kind, "jpeg") == 0)
		memcpy(p, "\xff\xd8\xff\xe0", n < 4 ? n : 4);
	else if (strcmp(kind, "text") == 0) {
		/* Two-byte characters everywhere, so chunks split some. */
		for (i = 0; i + 1 < n; i += 3) {
			p[i] = 'a' + (unsigned char)(i % 26);
			p[i + 1] = 0xc3;
			if (i + 2 < n)
				p[i + 2] = 0xa9;	/* é */
		}
		if (n % 3 == 2)
			p[n - 1] = 'z';
		else if (n % 3 == 1)
			p[n - 1] = 'y';
	}
	return p;
}

static int
group_setup(void **state)
{
	struct tsrv_opts	 opts;
	struct tcli		 c;
	size_t			 i;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	memset(&opts, 0, sizeof opts);
	opts.config = "max_file_bytes = 64k\nrl_upload = 1000/1h\n";
	srv_start(&srv, &opts);
	cli_open_as(&c, &srv, DEMO_PATIENT);
	john = jint(call_ok(&c, "patients.get", NULL), "patient.id");
	cli_close(&c);
	for (i = 0; i < nitems(demo_doctors); i++) {
		json_t	*reply;

		cli_open_as(&c, &srv, demo_doctors[i]);
		reply = cli_call(&c, "patients.get", "{s:I}", "id", (json_int_t)john);
		if (json_is_true(json_object_get(reply, "ok"))) {
			if (own_doctor == NULL)
				own_doctor = demo_doctors[i];
		} else if (other_doctor == NULL)
			other_doctor = demo_doctors[i];
		cli_close(&c);
	}
	if (own_doctor == NULL || other_doctor == NULL)
		return -1;
	cli_open_as(&c, &srv, own_doctor);
	rec = jint(call_ok(&c, "records.create", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "diagnosis", "Fracture of the left radius"),
	    "record.id");
	cli_close(&c);
	return rec > 0 ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	srv_stop(&srv);
	return 0;
}

/* --- tests --- */

static void
test_upload_and_download_return_the_same_bytes(void **state)
{
	static const struct {
		const char	*kind, *name, *mime;
		size_t		 size, step;
	} cases[] = {
		{ "png", "x-ray.png", "image/png", SMALL_MAX, 10000 },
		{ "pdf", "discharge letter.pdf", "application/pdf", 40000, 40000 },
		{ "jpeg", "wound.JPG", "image/jpeg", 3, 1 },	/* the least we take */
		{ "text", "notes", "text/plain", 30001, 1000 },
	};
	struct tcli	 d, p;
	unsigned char	*data, *back;
	char		 hex[65];
	size_t		 i, n;
	int64_t		 id, before;
	json_t		*res;

	(void)state;
	cli_open_as(&d, &srv, own_doctor);
	cli_open_as(&p, &srv, DEMO_PATIENT);
	before = files_total(&d);
	for (i = 0; i < nitems(cases); i++) {
		data = fake(cases[i].kind, cases[i].size);
		sha256_hex(data, cases[i].size, hex);
		res = reply_ok(upload(&d, rec, cases[i].name, cases[i].mime, data,
		    cases[i].size, cases[i].step, NULL));
		id = jint(res, "file.id");
		assert_true(id > 0);
		assert_jstr(res, "file.sha256", hex);
		assert_jstr(res, "file.name", cases[i].name);
		assert_jstr(res, "file.mime", cases[i].mime);
		assert_int_equal(jint(res, "file.size"), (int64_t)cases[i].size);
		assert_int_equal(jint(res, "file.record_id"), rec);
		assert_int_equal(jint(res, "file.patient_id"), john);

		/* The doctor and the patient read back the very same bytes. */
		back = download(&d, id, 7777, &n);
		assert_int_equal(n, cases[i].size);
		assert_memory_equal(back, data, n);
		free(back);
		back = download(&p, id, CHUNK, &n);
		sha256_hex(back, n, hex);
		assert_jstr(call_ok(&p, "files.get", "{s:I, s:i}", "file_id",
		    (json_int_t)id, "length", 1), "sha256", hex);
		free(back);
		free(data);
	}
	assert_int_equal(files_total(&d), before + (int64_t)nitems(cases));
	assert_int_equal(dir_entries(srv.dir, "uploads"), 0);

	/* Listed by record and by patient, newest first; and in the history. */
	res = call_ok(&d, "files.list", "{s:I}", "record_id", (json_int_t)rec);
	assert_int_equal(jint(res, "total"), before + (int64_t)nitems(cases));
	assert_jstr(res, "files.0.name", "notes");
	res = call_ok(&p, "files.list", "{}");
	assert_int_equal(jint(res, "total"), before + (int64_t)nitems(cases));
	res = call_ok(&p, "patients.history", "{}");
	assert_int_equal(jint(res, "files.total"), before + (int64_t)nitems(cases));
	assert_jstr(res, "files.items.0.name", "notes");

	/* Reading past the end, and the length bound. */
	call_err(&p, "files.get", "bad_request", "{s:I, s:i}", "file_id",
	    (json_int_t)id, "offset", SMALL_MAX);
	call_err(&p, "files.get", "bad_request", "{s:I, s:i}", "file_id",
	    (json_int_t)id, "length", CHUNK + 1);
	res = call_ok(&p, "files.get", "{s:I, s:i}", "file_id", (json_int_t)id,
	    "offset", 30001);
	assert_jstr(res, "bytes", "");
	cli_close(&p);
	cli_close(&d);
}

static void
test_content_decides_the_type(void **state)
{
	struct tcli	 d;
	unsigned char	*png, *bin, bad_utf8[] = "caf\xc3(";
	char		*id;
	int64_t		 before;
	int		 stored;
	json_t		*reply;

	(void)state;
	cli_open_as(&d, &srv, own_doctor);
	before = files_total(&d);
	stored = dir_entries(srv.dir, "files");
	png = fake("png", 5000);

	/* A PNG named .pdf, declared a PDF: refused on its content. */
	reply = upload(&d, rec, "report.pdf", "application/pdf", png, 5000, 5000,
	    NULL);
	reply_err(reply, "bad_request");
	assert_non_null(strstr(jstr(reply, "error.message"), "image/png"));
	/* A PNG declared a PNG but named .pdf: refused at begin. */
	call_err(&d, "files.begin", "bad_request", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)rec, "name", "report.pdf", "mime",
	    "image/png", "size", 5000);
	/* Random bytes are none of ours, whatever they claim. */
	bin = fake("random", 3000);
	bin[0] = 0;	/* not text either */
	reply_err(upload(&d, rec, "a.txt", "text/plain", bin, 3000, 3000, NULL),
	    "bad_request");
	reply_err(upload(&d, rec, "b.txt", "text/plain", bad_utf8, 5, 5, NULL),
	    "bad_request");
	/* A text file declared a PDF. */
	reply_err(upload(&d, rec, "c", "application/pdf",
	    (const unsigned char *)"hello", 5, 5, NULL), "bad_request");
	/* Types we do not take at all. */
	call_err(&d, "files.begin", "bad_request", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)rec, "name", "x.html", "mime", "text/html",
	    "size", 10);
	/* Names are names, not paths. */
	call_err(&d, "files.begin", "bad_request", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)rec, "name", "../../etc/passwd", "mime",
	    "text/plain", "size", 10);
	call_err(&d, "files.begin", "bad_request", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)rec, "name", "a\\b.txt", "mime",
	    "text/plain", "size", 10);
	/* Nothing of any of it is left. */
	assert_int_equal(files_total(&d), before);
	assert_int_equal(dir_entries(srv.dir, "files"), stored);
	assert_int_equal(dir_entries(srv.dir, "uploads"), 0);

	/* A refused upload is gone: its id names nothing any more. */
	id = begin(&d, rec, "scan.pdf", "application/pdf", 5000);
	send_all(&d, id, png, 5000, 5000);
	call_err(&d, "files.commit", "bad_request", "{s:s, s:s}", "upload_id",
	    id, "sha256", "00");
	free(id);
	free(png);
	free(bin);
	cli_close(&d);
}

static void
test_wrong_sha256_and_abort_leave_nothing(void **state)
{
	struct tcli	 d;
	unsigned char	*pdf;
	char		 hex[65], *id;
	int64_t		 before, audits;
	int		 stored;
	json_t		*reply;

	(void)state;
	cli_open_as(&d, &srv, own_doctor);
	before = files_total(&d);
	stored = dir_entries(srv.dir, "files");
	pdf = fake("pdf", 20000);

	sha256_hex(pdf, 19999, hex);	/* the hash of other bytes */
	id = begin(&d, rec, "lab.pdf", "application/pdf", 20000);
	send_all(&d, id, pdf, 20000, 6000);
	assert_int_equal(dir_entries(srv.dir, "uploads"), 1);
	reply = cli_call(&d, "files.commit", "{s:s, s:s}", "upload_id", id,
	    "sha256", hex);
	reply_err(reply, "bad_request");
	assert_non_null(strstr(jstr(reply, "error.message"), "sha256"));
	assert_int_equal(files_total(&d), before);
	assert_int_equal(dir_entries(srv.dir, "files"), stored);
	assert_int_equal(dir_entries(srv.dir, "uploads"), 0);
	reply_err(chunk(&d, id, 20000, pdf, 1), "not_found");
	free(id);

	/* Abort halfway: no row, no bytes, no upload. */
	id = begin(&d, rec, "lab.pdf", "application/pdf", 20000);
	send_all(&d, id, pdf, 10000, 6000);
	call_ok(&d, "files.abort", "{s:s}", "upload_id", id);
	assert_int_equal(files_total(&d), before);
	assert_int_equal(dir_entries(srv.dir, "files"), stored);
	assert_int_equal(dir_entries(srv.dir, "uploads"), 0);
	reply_err(chunk(&d, id, 10000, pdf, 1), "not_found");
	call_err(&d, "files.abort", "not_found", "{s:s}", "upload_id", id);
	free(id);

	/* Upper-case hex is the same hash. */
	sha256_hex(pdf, 20000, hex);
	for (size_t i = 0; hex[i] != '\0'; i++)
		if (hex[i] >= 'a' && hex[i] <= 'f')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	reply_ok(upload(&d, rec, "lab.pdf", "application/pdf", pdf, 20000, 20000,
	    hex));
	assert_int_equal(files_total(&d), before + 1);

	/* The refusal was audited. */
	{
		struct tcli	adm;

		cli_open_as(&adm, &srv, DEMO_ADMIN);
		audits = (int64_t)json_array_size(jpath(call_ok(&adm, "audit.list",
		    "{s:s, s:I}", "action", "files.refused", "patient_id",
		    (json_int_t)john), "entries"));
		assert_true(audits >= 1);
		cli_close(&adm);
	}
	free(pdf);
	cli_close(&d);
}

static void
test_chunks_must_come_in_order_and_fit(void **state)
{
	struct tcli	 d, d2;
	unsigned char	*txt;
	char		*id;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	json_t		*reply;

	(void)state;
	cli_open_as(&d, &srv, own_doctor);
	txt = fake("text", 3000);
	id = begin(&d, rec, "n.txt", "text/plain", 3000);
	reply_ok(chunk(&d, id, 0, txt, 1000));
	/* The same offset again, a gap, and going back: refused, and the
	 * reply names the offset wanted. */
	reply = chunk(&d, id, 0, txt, 1000);
	reply_err(reply, "conflict");
	assert_non_null(strstr(jstr(reply, "error.message"), "1000"));
	reply_err(chunk(&d, id, 2000, txt + 2000, 1000), "conflict");
	reply_err(chunk(&d, id, 999, txt + 999, 1000), "conflict");
	/* More than declared, and an empty chunk. */
	reply_err(chunk(&d, id, 1000, txt, 2001), "too_large");
	reply_err(chunk(&d, id, 1000, txt, 0), "bad_request");
	/* Incomplete uploads do not commit (and stay open). */
	call_err(&d, "files.commit", "bad_request", "{s:s, s:s}", "upload_id", id,
	    "sha256", "0000000000000000000000000000000000000000000000000000000000000000");
	reply_ok(chunk(&d, id, 1000, txt + 1000, 2000));

	/* Bytes must be bin, not a string. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_kv_str(&pk, "upload_id", id);
	mp_pack_kv_int(&pk, "offset", 3000);
	mp_pack_kv_str(&pk, "bytes", "abc");
	reply_err(call_packed(&d, "files.chunk", &sb), "bad_request");
	call_err(&d, "files.chunk", "bad_request", "{s:s, s:i}", "upload_id", id,
	    "offset", 0);
	call_err(&d, "files.chunk", "bad_request", "{s:s, s:i, s:s, s:i}",
	    "upload_id", id, "offset", 0, "bytes", "x", "extra", 1);

	/* Another connection of the same doctor does not see the upload. */
	cli_open_as(&d2, &srv, own_doctor);
	reply_err(chunk(&d2, id, 3000, txt, 1), "not_found");
	call_err(&d2, "files.abort", "not_found", "{s:s}", "upload_id", id);
	call_err(&d2, "files.abort", "bad_request", "{s:s}", "upload_id", "../x");
	cli_close(&d2);

	/* A chunk over 256 KiB is refused before anything else. */
	{
		unsigned char	*big = xcalloc(1, CHUNK + 1);

		reply_err(chunk(&d, id, 3000, big, CHUNK + 1), "too_large");
		free(big);
	}
	/* Over the configured maximum size. */
	call_err(&d, "files.begin", "too_large", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)rec, "name", "big.txt", "mime", "text/plain",
	    "size", SMALL_MAX + 1);
	call_err(&d, "files.begin", "bad_request", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)rec, "name", "e.txt", "mime", "text/plain",
	    "size", 0);

	/* Logging out drops the session's uploads, logging in again does
	 * not bring them back. */
	call_ok(&d, "auth.logout", NULL);
	assert_int_equal(dir_entries(srv.dir, "uploads"), 0);
	free(cli_login(&d, own_doctor, DEMO_PASSWORD));
	reply_err(chunk(&d, id, 3000, txt, 1), "not_found");
	free(id);
	id = begin(&d, rec, "n.txt", "text/plain", 3000);
	reply_ok(chunk(&d, id, 0, txt, 1000));
	assert_int_equal(dir_entries(srv.dir, "uploads"), 1);

	/* Closing the connection drops its uploads. */
	cli_close(&d);
	{
		int	i;

		for (i = 0; i < 200 * test_time_scale() &&
		    dir_entries(srv.dir, "uploads") != 0; i++)
			usleep(10000);
	}
	assert_int_equal(dir_entries(srv.dir, "uploads"), 0);
	free(id);
	free(txt);
}

static void
test_idle_upload_expires(void **state)
{
	struct tcli	 d;
	char		*id;

	(void)state;
	cli_open_as(&d, &srv, own_doctor);
	id = begin(&d, rec, "slow.txt", "text/plain", 10);
	reply_ok(chunk(&d, id, 0, "hello", 5));
	clock_forward(&d, 9 * 60);
	reply_ok(chunk(&d, id, 5, "hel", 3));	/* activity restarts the wait */
	clock_forward(&d, 10 * 60 + 1);
	reply_err(chunk(&d, id, 8, "lo", 2), "not_found");
	assert_int_equal(dir_entries(srv.dir, "uploads"), 0);
	free(id);
	cli_close(&d);
}

/* Every role against john's file and record, and other patients'. */
static void
test_who_may_touch_which_files(void **state)
{
	struct tcli	 c, adm;
	unsigned char	*png;
	int64_t		 file_id;
	char		*a, *b;
	json_t		*reply;

	(void)state;
	png = fake("png", 2000);
	cli_open_as(&c, &srv, own_doctor);
	file_id = jint(reply_ok(upload(&c, rec, "scan.png", "image/png", png, 2000,
	    2000, NULL)), "file.id");
	cli_close(&c);

	/* The other patient: forbidden, and a missing id looks the same. */
	cli_open_as(&c, &srv, OTHER_PATIENT);
	call_err(&c, "files.get", "forbidden", "{s:I}", "file_id",
	    (json_int_t)file_id);
	a = xstrdup(jstr(c.reply, "error.message"));
	call_err(&c, "files.get", "forbidden", "{s:I}", "file_id",
	    (json_int_t)file_id + 100000);
	b = xstrdup(jstr(c.reply, "error.message"));
	assert_string_equal(a, b);
	free(a);
	free(b);
	call_err(&c, "files.list", "forbidden", "{s:I}", "record_id",
	    (json_int_t)rec);
	call_err(&c, "files.list", "forbidden", "{s:I}", "patient_id",
	    (json_int_t)john);
	assert_int_equal(jint(call_ok(&c, "files.list", "{}"), "total"), 0);
	/* Patients do not upload. */
	call_err(&c, "files.begin", "forbidden", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)rec, "name", "x.png", "mime", "image/png",
	    "size", 10);
	cli_close(&c);

	/* The own patient reads, never writes. */
	cli_open_as(&c, &srv, DEMO_PATIENT);
	call_ok(&c, "files.get", "{s:I}", "file_id", (json_int_t)file_id);
	call_ok(&c, "files.list", "{s:I}", "record_id", (json_int_t)rec);
	call_err(&c, "files.begin", "forbidden", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)rec, "name", "x.png", "mime", "image/png",
	    "size", 10);
	cli_close(&c);

	/* A doctor who never saw john: nothing until break-the-glass. */
	cli_open_as(&c, &srv, other_doctor);
	if (json_is_true(json_object_get(cli_call(&c, "files.get", "{s:I}",
	    "file_id", (json_int_t)file_id), "ok"))) {
		/* test_clinical's break-the-glass does not reach this server;
		 * a fresh server has no grants. */
		fail_msg("other doctor read the file without a grant");
	}
	reply_err(c.reply, "forbidden");
	call_err(&c, "files.list", "forbidden", "{s:I}", "patient_id",
	    (json_int_t)john);
	call_err(&c, "files.begin", "forbidden", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)rec, "name", "x.png", "mime", "image/png",
	    "size", 10);
	/* A record id that names nothing answers the same. */
	reply = cli_call(&c, "files.begin", "{s:I, s:s, s:s, s:i}", "record_id",
	    (json_int_t)rec + 100000, "name", "x.png", "mime", "image/png",
	    "size", 10);
	reply_err(reply, "forbidden");
	call_ok(&c, "access.break_glass", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "reason", "Covering the fracture clinic tonight");
	call_ok(&c, "files.get", "{s:I}", "file_id", (json_int_t)file_id);
	reply_ok(upload(&c, rec, "cast.png", "image/png", png, 2000, 2000, NULL));
	cli_close(&c);

	/* The receptionist: never. */
	cli_open_as(&c, &srv, DEMO_RECEPTION);
	call_err(&c, "files.get", "forbidden", "{s:I}", "file_id",
	    (json_int_t)file_id);
	call_err(&c, "files.list", "forbidden", "{s:I}", "patient_id",
	    (json_int_t)john);
	call_err(&c, "files.begin", "forbidden", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)rec, "name", "x.png", "mime", "image/png",
	    "size", 10);
	cli_close(&c);

	/* The admin: only through break-the-glass, and only reading. */
	cli_open_as(&adm, &srv, DEMO_ADMIN);
	call_err(&adm, "files.get", "forbidden", "{s:I}", "file_id",
	    (json_int_t)file_id);
	call_err(&adm, "files.list", "forbidden", "{s:I}", "patient_id",
	    (json_int_t)john);
	call_ok(&adm, "access.break_glass", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "reason", "Complaint review, case 2231");
	call_ok(&adm, "files.get", "{s:I}", "file_id", (json_int_t)file_id);
	assert_true(jint(call_ok(&adm, "files.list", "{s:I}", "patient_id",
	    (json_int_t)john), "total") >= 2);
	call_err(&adm, "files.begin", "forbidden", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)rec, "name", "x.png", "mime", "image/png",
	    "size", 10);
	/* Every read and write left an audit row. */
	assert_true(json_array_size(jpath(call_ok(&adm, "audit.list",
	    "{s:s, s:I}", "action", "files.get", "patient_id", (json_int_t)john),
	    "entries")) >= 4);
	assert_true(json_array_size(jpath(call_ok(&adm, "audit.list",
	    "{s:s, s:I}", "action", "files.written", "patient_id",
	    (json_int_t)john), "entries")) >= 2);
	assert_true(json_array_size(jpath(call_ok(&adm, "audit.list",
	    "{s:s, s:I}", "action", "files.list", "patient_id", (json_int_t)john),
	    "entries")) >= 2);
	cli_close(&adm);
	free(png);
}

/* --- servers of their own --- */

/* The exact default limit, and the upload rate limit (20 an hour). */
static void
test_ten_mib_passes_and_one_byte_more_fails(void **state)
{
	struct tsrv	 s;
	struct tcli	 d;
	unsigned char	*data, *back;
	size_t		 n = 10 * 1024 * 1024;
	char		*id, hex[65];
	int64_t		 r, file_id;
	int		 i, begins = 0;

	(void)state;
	srv_start(&s, NULL);
	cli_open_as(&d, &s, own_doctor);
	r = jint(call_ok(&d, "records.create", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "diagnosis", "Chest pain, ECG attached"), "record.id");
	data = fake("pdf", n);
	file_id = jint(reply_ok(upload(&d, r, "ecg.pdf", "application/pdf", data,
	    n, CHUNK, NULL)), "file.id");
	begins++;
	back = download(&d, file_id, CHUNK, &n);
	assert_int_equal(n, 10 * 1024 * 1024);
	sha256_hex(back, n, hex);
	assert_jstr(call_ok(&d, "files.get", "{s:I, s:i}", "file_id",
	    (json_int_t)file_id, "length", 1), "sha256", hex);
	assert_memory_equal(back, data, n);
	free(back);
	call_err(&d, "files.begin", "too_large", "{s:I, s:s, s:s, s:I}",
	    "record_id", (json_int_t)r, "name", "ecg.pdf", "mime",
	    "application/pdf", "size", (json_int_t)n + 1);
	begins++;
	/* And no way to sneak the byte in: one more than declared. */
	id = begin(&d, r, "ecg.pdf", "application/pdf", n);
	begins++;
	send_all(&d, id, data, n, CHUNK);
	reply_err(chunk(&d, id, (int64_t)n, "x", 1), "too_large");
	call_ok(&d, "files.abort", "{s:s}", "upload_id", id);
	free(id);
	free(data);

	/* 20 files.begin an hour, then rate_limited with a retry_after. */
	for (i = begins; i < 20; i++) {
		id = begin(&d, r, "t.txt", "text/plain", 1);
		call_ok(&d, "files.abort", "{s:s}", "upload_id", id);
		free(id);
	}
	call_err(&d, "files.begin", "rate_limited", "{s:I, s:s, s:s, s:i}",
	    "record_id", (json_int_t)r, "name", "t.txt", "mime", "text/plain",
	    "size", 1);
	assert_true(jint(d.reply, "error.retry_after") > 0);
	cli_close(&d);
	srv_stop(&s);
}

static void
rm_rf(const char *dir)
{
	char	cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A server killed mid-upload (and between a rename and its COMMIT) leaves
 * nothing after the restart. */
static void
test_kill_mid_upload_leaves_nothing(void **state)
{
	struct tsrv_opts	 opts;
	struct tsrv		 s;
	struct tcli		 d;
	const char		*args[3];
	unsigned char		*data;
	char			 dir[] = "/tmp/mediflow-files-XXXXXX", orphan[PATH_MAX];
	char			*id;
	int64_t			 r;
	FILE			*f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	args[0] = "--data-dir";
	args[1] = dir;
	args[2] = NULL;
	memset(&opts, 0, sizeof opts);
	opts.args = args;
	srv_start(&s, &opts);
	cli_open_as(&d, &s, own_doctor);
	r = jint(call_ok(&d, "records.create", "{s:I, s:s}", "patient_id",
	    (json_int_t)john, "diagnosis", "Sprain"), "record.id");
	data = fake("png", 100000);
	id = begin(&d, r, "ankle.png", "image/png", 100000);
	send_all(&d, id, data, 60000, 30000);
	assert_int_equal(dir_entries(dir, "uploads"), 1);
	free(id);

	/* Killed with no chance to clean up, as a crash would be. */
	kill(s.pid, SIGKILL);
	waitpid(s.pid, NULL, 0);
	close(s.out_fd);
	rm_rf(s.dir);
	s.pid = 0;
	cli_close(&d);
	/* What a crash after the rename and before the COMMIT leaves. */
	snprintf(orphan, sizeof orphan, "%s/files/0123456789abcdef0123456789abcdef",
	    dir);
	assert_non_null(f = fopen(orphan, "w"));
	fputs("%PDF-1.4 orphan", f);
	fclose(f);

	srv_start(&s, &opts);
	assert_int_equal(dir_entries(dir, "uploads"), 0);
	assert_int_equal(dir_entries(dir, "files"), 0);
	cli_open_as(&d, &s, own_doctor);
	assert_int_equal(jint(call_ok(&d, "files.list", "{s:I}", "record_id",
	    (json_int_t)r), "total"), 0);
	/* And uploads work after the restart. */
	reply_ok(upload(&d, r, "ankle.png", "image/png", data, 100000, 50000,
	    NULL));
	assert_int_equal(dir_entries(dir, "files"), 1);
	cli_close(&d);
	srv_stop(&s);
	rm_rf(dir);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upload_and_download_return_the_same_bytes),
		cmocka_unit_test(test_content_decides_the_type),
		cmocka_unit_test(test_wrong_sha256_and_abort_leave_nothing),
		cmocka_unit_test(test_chunks_must_come_in_order_and_fit),
		cmocka_unit_test(test_idle_upload_expires),
		cmocka_unit_test(test_who_may_touch_which_files),
		cmocka_unit_test(test_ten_mib_passes_and_one_byte_more_fails),
		cmocka_unit_test(test_kill_mid_upload_leaves_nothing),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
