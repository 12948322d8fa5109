/* proto.h -- the wire contract's constants (see protocol.md).
 *
 * Error codes are a closed set: never renumber, never reuse, add at the end. */
#ifndef MF_PROTO_H
#define MF_PROTO_H

#define PROTO_VERSION		1

#define FRAME_HEADER_SIZE	4
#define FRAME_MAX_DEFAULT	(1024 * 1024)
#define FRAME_DEPTH_MAX		16
#define FRAME_STR_MAX		(1024 * 1024)
#define FRAME_ELEMENTS_MAX	65536

enum err_code {
	ERR_NONE = 0,
	ERR_BAD_REQUEST,
	ERR_UNAUTHENTICATED,
	ERR_FORBIDDEN,
	ERR_NOT_FOUND,
	ERR_CONFLICT,
	ERR_RATE_LIMITED,
	ERR_LOCKED,
	ERR_TOO_LARGE,
	ERR_UNAVAILABLE,
	ERR_INTERNAL,
	ERR__COUNT
};

const char	*err_code_name(enum err_code);
/* ERR_NONE when the name is not a known code. */
enum err_code	 err_code_from_name(const char *);

enum role {
	ROLE_NONE = 0,
	ROLE_PATIENT = 1 << 0,
	ROLE_DOCTOR = 1 << 1,
	ROLE_RECEPTIONIST = 1 << 2,
	ROLE_ADMIN = 1 << 3,
};
#define ROLES_STAFF	(ROLE_DOCTOR | ROLE_RECEPTIONIST | ROLE_ADMIN)
#define ROLES_ANY	(ROLES_STAFF | ROLE_PATIENT)

const char	*role_name(enum role);
/* ROLE_NONE when the name is not a role. */
enum role	 role_from_name(const char *);

#endif
