/* proto.c -- names of the wire contract's constants. */
#include <string.h>

#include "proto.h"
#include "util.h"

static const char *err_names[ERR__COUNT] = {
	[ERR_NONE] = "none",
	[ERR_BAD_REQUEST] = "bad_request",
	[ERR_UNAUTHENTICATED] = "unauthenticated",
	[ERR_FORBIDDEN] = "forbidden",
	[ERR_NOT_FOUND] = "not_found",
	[ERR_CONFLICT] = "conflict",
	[ERR_RATE_LIMITED] = "rate_limited",
	[ERR_LOCKED] = "locked",
	[ERR_TOO_LARGE] = "too_large",
	[ERR_UNAVAILABLE] = "unavailable",
	[ERR_INTERNAL] = "internal",
};

const char *
err_code_name(enum err_code code)
{
	if ((unsigned)code >= ERR__COUNT)
		return "internal";
	return err_names[code];
}

enum err_code
err_code_from_name(const char *name)
{
	unsigned	i;

	for (i = 1; i < ERR__COUNT; i++) {
		if (strcmp(err_names[i], name) == 0)
			return (enum err_code)i;
	}
	return ERR_NONE;
}

static const struct {
	enum role	 role;
	const char	*name;
} role_names[] = {
	{ ROLE_PATIENT, "patient" },
	{ ROLE_DOCTOR, "doctor" },
	{ ROLE_RECEPTIONIST, "receptionist" },
	{ ROLE_ADMIN, "admin" },
};

const char *
role_name(enum role role)
{
	size_t	i;

	for (i = 0; i < nitems(role_names); i++) {
		if (role_names[i].role == role)
			return role_names[i].name;
	}
	return "none";
}

enum role
role_from_name(const char *name)
{
	size_t	i;

	for (i = 0; i < nitems(role_names); i++) {
		if (strcmp(role_names[i].name, name) == 0)
			return role_names[i].role;
	}
	return ROLE_NONE;
}
