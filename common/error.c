/*
 * common/error.c -- messages and names of tallow's error codes, generated
 * from TAL_ERRNO_MAP so each code has exactly one message.
 */
#include "common/error.h"

const char *tal_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
#define TAL__ERR_MSG(name, val, msg)                                                               \
	case (val):                                                                                \
		return msg;
		TAL_ERRNO_MAP(TAL__ERR_MSG)
#undef TAL__ERR_MSG
	}
	return "unknown error";
}

const char *tal_errname(int code)
{
	switch (code) {
	case 0:
		return "EOK";
#define TAL__ERR_NAME(name, val, msg)                                                              \
	case (val):                                                                                \
		return #name;
		TAL_ERRNO_MAP(TAL__ERR_NAME)
#undef TAL__ERR_NAME
	}
	return "EUNKNOWN";
}

int tal_error_from_errno(int errnum)
{
	switch (-errnum) {
#define TAL__ERR_ERRNO(name, val, msg)                                                             \
	case (val):                                                                                \
		return (val) > -1000 ? (val) : TAL_EIO;
		TAL_ERRNO_MAP(TAL__ERR_ERRNO)
#undef TAL__ERR_ERRNO
	}
	return TAL_EIO;
}
