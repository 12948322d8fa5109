/* web.h -- the patient web page's static files, embedded in the binary by
 * server/gen-web.sh from server/web/ at build time. */
#ifndef MF_WEB_H
#define MF_WEB_H

#include <stddef.h>

struct web_asset {
	const char		*path;		/* "/index.html", "/app.js", ... */
	const char		*mime;		/* with charset for text types */
	const unsigned char	*data;
	size_t			 len;
	const char		*etag;		/* quoted, from the content's sha256 */
	const unsigned char	*gz;		/* the gzip form, or NULL: not smaller */
	size_t			 gz_len;
	const char		*gz_etag;	/* the gzip form's own ETag */
};

extern const struct web_asset	web_assets[];
extern const size_t		web_assets_count;

/* The asset served at path ("/" is "/index.html"), or NULL. */
const struct web_asset *web_asset_find(const char *path);

#endif
