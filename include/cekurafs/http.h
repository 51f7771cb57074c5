/* http.h - the HTTP transport interface, and the one policy every API call goes through.
 *
 * A transport makes one exchange (one request, one response or one failure).
 * http_send() wraps any transport with what every call needs: a time budget,
 * retries with exponential backoff and full jitter (honouring Retry-After),
 * and offline fast-fail. Unit tests plug in a fake transport; the daemon uses
 * http_curl_new(), libcurl with one shared connection pool.
 */
#ifndef CEKURAFS_HTTP_H
#define CEKURAFS_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "cekurafs/stats.h"

/* Largest response body accepted; a larger one is HTTP_TOO_LARGE. */
#define HTTP_MAX_BODY (16u * 1024 * 1024)

enum http_outcome {
	HTTP_DONE,	      /* a whole response arrived, whatever its status */
	HTTP_REFUSED,	      /* the connection was refused */
	HTTP_UNREACHABLE,     /* the host could not be resolved or reached */
	HTTP_CONNECT_TIMEOUT, /* no connection within the connect timeout */
	HTTP_TIMEOUT,	      /* connected, but the response did not come in time */
	HTTP_RESET,	      /* the connection broke before a whole response came */
	HTTP_TOO_LARGE,	      /* the body passed HTTP_MAX_BODY */
	HTTP_BAD_RESPONSE,    /* not HTTP, or a truncated body */
	HTTP_INTERRUPTED,     /* the caller gave up (a FUSE interrupt) */
	HTTP_TLS_VERIFY,      /* the server's TLS certificate could not be verified */
	HTTP_FAILED,	      /* anything else */
};

struct http_request {
	const char *method; /* "GET" or "POST" */
	const char *url;    /* absolute */
	const char *key;    /* sent as X-CEKURA-API-KEY; never logged */
	/* A POST's body, body_len bytes sent as they are with Content-Type:
	 * application/json; NULL (and 0) for a POST with an empty body. Borrowed
	 * for the call. Never logged: a body may hold a provider's key. A GET
	 * sends none. */
	const char *body;
	size_t body_len;
	/* What .cekurafs/stats counts each exchange as: the caller knows what it
	 * asks for, the URL is not parsed for it. */
	enum stats_endpoint endpoint;
	double timeout;		/* seconds, this exchange */
	double connect_timeout; /* seconds, this exchange */
	/* Polled during the exchange and the backoff; true stops both. May be NULL. */
	bool (*cancelled)(void *arg);
	void *cancel_arg;
	/* Largest body accepted from this exchange, in bytes; 0 is HTTP_MAX_BODY. */
	size_t max_body;
	/* Once the request has been sent, cancelled is no longer polled: the
	 * exchange runs to its answer or its timeout (a POST whose effect must not
	 * be left in doubt by an interrupt). Before it is sent, and in the backoff
	 * before a resend, cancelled still stops it. */
	bool keep_once_sent;
};

/* One exchange's result. body is owned (NUL-terminated, may be NULL when len is 0). */
struct http_response {
	enum http_outcome outcome;
	long status; /* HTTP_DONE only */
	char *body;
	size_t len;
	double retry_after; /* seconds from a Retry-After header (> 0), or -1 */
	double elapsed;	    /* seconds the whole http_send() took */
	/* The transport's own words for an HTTP_TLS_VERIFY or HTTP_FAILED outcome
	 * ("SSL certificate problem: unable to get local issuer certificate"), or
	 * "". Never holds a header, so never the key. */
	char detail[256];
};

struct http_transport {
	/* Makes one exchange; fills every field of resp but elapsed. */
	void (*exchange)(struct http_transport *t, const struct http_request *req,
			 struct http_response *resp);
	void (*destroy)(struct http_transport *t);
};

struct http_policy {
	double timeout;		/* whole budget of one call, retries included */
	double connect_timeout; /* per attempt, capped by what is left of the budget */
	int max_retries;	/* after the first attempt */
	double backoff;		/* base of the exponential backoff, seconds */
};

/* Reachability of the API, shared by every call. While offline, attempts get a
 * short connect timeout and no retries, so callers fail fast; the first
 * answer brings it back. on_change (may be NULL) is called once per change. */
struct http_health {
	atomic_bool offline;
	void (*on_change)(bool offline, const char *why);
};

/* Makes a call under policy: retries a GET (idempotent) on connection errors,
 * 5xx and 429; a POST only when its connection never opened or when it was
 * answered 429 (a refusal that processed nothing), after Retry-After, within
 * the budget. Returns the last exchange's result in resp (the caller frees it
 * with http_response_free()). */
void http_send(struct http_transport *t, const struct http_policy *policy, struct http_health *health,
	       const struct http_request *req, bool idempotent, struct http_response *resp);

void http_response_free(struct http_response *resp);

/* Whether an outcome means the request never reached the server. */
bool http_never_sent(enum http_outcome outcome);

/* curl_global_init() with an allocator that wipes every block libcurl frees
 * (the key is in the requests it formats). Returns 0, or -1 on failure. */
int http_global_init(void);

/* An absolute URL as libcurl's URL parser reads it. */
struct http_url {
	char scheme[16]; /* lower case: "https" */
	char host[256];	 /* an IPv6 address in brackets: "[::1]" */
	bool userinfo;	 /* it names a user or a password */
};

/* Splits url with libcurl's URL API (curl_url()). 0, or -EINVAL when it is
 * not an absolute URL with a host, or a part is too long. */
int http_url_split(const char *url, struct http_url *out);

/* Undoes http_global_init(), once every transport is destroyed. */
void http_global_cleanup(void);

/* The HTTP library's name and version ("libcurl/7.88.1 OpenSSL/3.0.11 ..."), for --version. */
const char *http_library_version(void);

/* A libcurl transport: one share handle (connections, DNS, TLS sessions) for
 * all threads. cacert may be NULL (system store). Returns NULL on failure.
 * http_global_init() must have been called. */
struct http_transport *http_curl_new(const char *cacert);

#endif
