/* errmap.c - transport result -> errno and words. Pure.
 *
 * The table of the README's "Errors a caller sees", in one place, so every
 * file of the mount fails the same way for the same cause.
 */
#include "cekurafs/errmap.h"

#include <errno.h>
#include <stdio.h>

static int status_errno(long status)
{
	if(status >= 200 && status < 300)
		return 0;
	if(status == 401 || status == 403)
		return EACCES;
	if(status == 404)
		return ENOENT;
	if(status == 409)
		return EBUSY;
	if(status == 429)
		return EAGAIN;
	if(status >= 500)
		return EIO;
	if(status >= 400)
		return EREMOTEIO;
	return EPROTO; /* 1xx, 3xx: nothing we asked for */
}

int errmap_errno(enum http_outcome outcome, long status)
{
	switch(outcome) {
	case HTTP_DONE:
		return status_errno(status);
	case HTTP_REFUSED:
		return ECONNREFUSED;
	case HTTP_UNREACHABLE:
		return EHOSTUNREACH;
	case HTTP_CONNECT_TIMEOUT:
	case HTTP_TIMEOUT:
		return ETIMEDOUT;
	case HTTP_RESET:
		return ECONNRESET;
	case HTTP_TOO_LARGE:
	case HTTP_BAD_RESPONSE:
		return EPROTO;
	case HTTP_INTERRUPTED:
		return EINTR;
	case HTTP_TLS_VERIFY:
	case HTTP_FAILED:
		break;
	}
	return EIO;
}

void errmap_describe(enum http_outcome outcome, double timeout, char *buf, size_t size)
{
	switch(outcome) {
	case HTTP_DONE:
		snprintf(buf, size, "answered");
		break;
	case HTTP_REFUSED:
		snprintf(buf, size, "cannot connect to the API: connection refused");
		break;
	case HTTP_UNREACHABLE:
		snprintf(buf, size, "cannot reach the API host");
		break;
	case HTTP_CONNECT_TIMEOUT:
		snprintf(buf, size, "cannot connect to the API: timed out");
		break;
	case HTTP_TIMEOUT:
		snprintf(buf, size, "timed out after %g s", timeout);
		break;
	case HTTP_RESET:
		snprintf(buf, size, "connection reset by the API");
		break;
	case HTTP_TOO_LARGE:
		snprintf(buf, size, "response larger than %u MiB", HTTP_MAX_BODY >> 20);
		break;
	case HTTP_BAD_RESPONSE:
		snprintf(buf, size, "malformed or truncated HTTP response");
		break;
	case HTTP_INTERRUPTED:
		snprintf(buf, size, "interrupted");
		break;
	case HTTP_TLS_VERIFY:
		snprintf(buf, size, "TLS certificate verification failed");
		break;
	case HTTP_FAILED:
		snprintf(buf, size, "transfer failed");
		break;
	}
}
