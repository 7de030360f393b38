/*
 * PROPFIND multistatus answers (RFC 4918 section 14.16), parsed by
 * libexpat with namespace processing.
 *
 * Names arrive as "URI\nlocal": only the "DAV:" namespace counts, so an
 * <x:href xmlns:x="urn:other"> or an <href> without a namespace is not
 * an href (the hand-written tokenizer this replaces matched any
 * "*:href").  Each property is read only where RFC 4918 puts it:
 *
 *   multistatus/response/href
 *   multistatus/response/propstat/prop/{getcontentlength,getlastmodified}
 *   multistatus/response/propstat/prop/resourcetype/collection
 *   multistatus/response/propstat/status
 *
 * and the properties of a propstat whose status is not 2xx (404 for the
 * ones the server lacks) are dropped.  Responses count only as children
 * of a DAV: multistatus root; other elements are skipped.
 *
 * A server is not trusted: the body, the nesting and each text are
 * bounded, and a DOCTYPE is refused before its internal subset is read,
 * so no entity is ever defined and neither the billion laughs nor an
 * external entity can happen (a multistatus never needs one).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <expat.h>

#include "migrate/error.h"
#include "migrate/util.h"

#define MIG_TRANSPORT_INTERNAL
#include "propfind_int.h"

#define NS_SEP		'\n'
#define DAV(local)	"DAV:\n" local
#define FEED_MAX	(1 << 20)	/* bytes per XML_Parse() call */

enum pf_cap { CAP_NONE, CAP_HREF, CAP_LEN, CAP_MTIME, CAP_STATUS };

static int
pf_fail(struct mig_pf *pf, const char *why)
{
	if (pf->err == 0)
		pf->err = mig_seterr(pf->ctx, MIG_ERR_FORMAT,
		    "%s: PROPFIND answer: %s", pf->what, why);
	if (pf->err == 0)		/* ctx NULL returns the code anyway */
		pf->err = MIG_ERR_FORMAT;
	return pf->err;
}

/* Refuses the answer from inside a handler: expat stops at once. */
static void
pf_abort(struct mig_pf *pf, const char *why)
{
	(void)pf_fail(pf, why);
	(void)XML_StopParser(pf->xp, XML_FALSE);
}

/*
 * Name of an href relative to base: "" for base itself, the last
 * component for a direct child, NULL (ignored) for anything else.
 * Returns 0, or MIG_ERR_FORMAT / NOMEM.
 */
static int
pf_name(struct mig_pf *pf, const char *href, char **namep)
{
	const char *p = href, *rest;
	char *path = NULL, *name = NULL;
	size_t bl = strlen(pf->base), len, i;
	int r;

	*namep = NULL;
	if (strncasecmp(p, "http://", 7) == 0 ||
	    strncasecmp(p, "https://", 8) == 0) {
		p = strstr(p, "://") + 3;
		if ((p = strchr(p, '/')) == NULL)
			p = "/";
	}
	if ((r = mig_percent_decode(p, strlen(p), &path)) != 0)
		return pf_fail(pf, r == MIG_ERR_NOMEM ? "out of memory" :
		    "bad percent-escape in href");
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	if ((len == bl && memcmp(path, pf->base, bl) == 0) ||
	    (bl == 0 && len == 1 && path[0] == '/')) {
		/* base itself (the server root when asked for as ""). */
		name = strdup("");
		goto done;
	}
	if (len <= bl + 1 || memcmp(path, pf->base, bl) != 0 ||
	    path[bl] != '/')
		goto out;
	rest = path + bl + 1;
	if (strchr(rest, '/') != NULL || strcmp(rest, ".") == 0 ||
	    strcmp(rest, "..") == 0)
		goto out;
	for (i = 0; rest[i] != '\0'; i++)
		if ((unsigned char)rest[i] < 0x20 || rest[i] == 0x7f)
			goto out;
	name = strdup(rest);
done:
	if (name == NULL)
		r = pf_fail(pf, "out of memory");
	*namep = name;
out:
	free(path);
	return r;
}

static int
pf_emit(struct mig_pf *pf)
{
	struct mig_pf_entry *n;
	char *name = NULL;
	size_t nc;
	int r;

	if (pf->href == NULL)
		return pf_fail(pf, "response without href");
	if ((r = pf_name(pf, pf->href, &name)) != 0 || name == NULL)
		return r;
	if (pf->n == pf->capn) {
		nc = pf->capn == 0 ? 64 : pf->capn * 2;
		if (nc > MIG_PF_MAX_ENTRIES) {
			free(name);
			return pf_fail(pf, "too many entries");
		}
		if ((n = realloc(pf->ents, nc * sizeof(*n))) == NULL) {
			free(name);
			return pf_fail(pf, "out of memory");
		}
		pf->ents = n;
		pf->capn = nc;
	}
	pf->ents[pf->n].name = name;
	pf->ents[pf->n].st = pf->st;
	pf->n++;
	return 0;
}

/* "HTTP/1.1 200 OK" -> 200; 0 when it is not a status line. */
static int
pf_status(const char *s)
{
	const char *sp;

	if (strncmp(s, "HTTP/", 5) != 0 || (sp = strchr(s, ' ')) == NULL)
		return 0;
	if (sp[1] < '1' || sp[1] > '5' || sp[2] < '0' || sp[2] > '9' ||
	    sp[3] < '0' || sp[3] > '9' || (sp[4] != '\0' && sp[4] != ' '))
		return 0;
	return (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
}

/* The end of a propstat: its properties count when its status is 2xx. */
static void
pf_propstat_end(struct mig_pf *pf)
{
	if (pf->ps_status < 200 || pf->ps_status > 299)
		return;
	if (pf->ps_len)
		pf->st.size = pf->ps_st.size;
	if (pf->ps_mtime)
		pf->st.mtime = pf->ps_st.mtime;
	if (pf->ps_dir)
		pf->st.type = MIG_FT_DIR;
}

/* Text captured for a property, at the end of its element. */
static void
pf_text_end(struct mig_pf *pf)
{
	unsigned long long v;
	char *end;
	time_t t;

	pf->text[pf->textlen] = '\0';
	switch (pf->cap) {
	case CAP_HREF:
		if ((pf->href = strdup(pf->text)) == NULL)
			pf_abort(pf, "out of memory");
		break;
	case CAP_LEN:
		if (pf->textlen == 0)
			break;
		errno = 0;
		v = strtoull(pf->text, &end, 10);
		if (pf->text[0] < '0' || pf->text[0] > '9' || *end != '\0' ||
		    errno != 0 || v > INT64_MAX) {
			pf_abort(pf, "bad getcontentlength");
			break;
		}
		pf->ps_st.size = (uint64_t)v;
		pf->ps_len = true;
		break;
	case CAP_MTIME:
		if ((t = curl_getdate(pf->text, NULL)) != (time_t)-1) {
			pf->ps_st.mtime = t;
			pf->ps_mtime = true;
		}
		break;
	case CAP_STATUS:
		pf->ps_status = pf_status(pf->text);
		break;
	}
	pf->cap = CAP_NONE;
}

/* Starts capturing the text of the element just opened. */
static void
pf_capture(struct mig_pf *pf, int cap)
{
	pf->cap = cap;
	pf->textlen = 0;
}

/* An element at pf->depth (already counted) inside a response. */
static void
pf_start_in_response(struct mig_pf *pf, const char *name)
{
	unsigned int d = pf->depth;

	if (d == pf->resp_depth + 1) {
		if (strcmp(name, DAV("href")) == 0 && pf->href == NULL)
			pf_capture(pf, CAP_HREF);
		else if (strcmp(name, DAV("propstat")) == 0) {
			pf->ps_depth = d;
			memset(&pf->ps_st, 0, sizeof(pf->ps_st));
			pf->ps_len = pf->ps_dir = pf->ps_mtime = false;
			pf->ps_status = 0;
		}
		return;
	}
	if (pf->ps_depth == 0)
		return;
	if (d == pf->ps_depth + 1) {
		if (strcmp(name, DAV("prop")) == 0)
			pf->prop_depth = d;
		else if (strcmp(name, DAV("status")) == 0)
			pf_capture(pf, CAP_STATUS);
	} else if (pf->prop_depth != 0 && d == pf->prop_depth + 1) {
		if (strcmp(name, DAV("getcontentlength")) == 0)
			pf_capture(pf, CAP_LEN);
		else if (strcmp(name, DAV("getlastmodified")) == 0)
			pf_capture(pf, CAP_MTIME);
		else if (strcmp(name, DAV("resourcetype")) == 0)
			pf->rtype_depth = d;
	} else if (pf->rtype_depth != 0 && d == pf->rtype_depth + 1 &&
	    strcmp(name, DAV("collection")) == 0)
		pf->ps_dir = true;
}

static void XMLCALL
pf_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	struct mig_pf *pf = arg;

	(void)atts;
	if (pf->err != 0)
		return;
	if (++pf->depth > MIG_PF_DEPTH_MAX) {
		pf_abort(pf, "elements nested too deeply");
		return;
	}
	/* Text is captured only where no element is expected. */
	if (pf->cap != CAP_NONE) {
		pf_abort(pf, "element inside a property value");
		return;
	}
	if (pf->resp_depth != 0) {
		pf_start_in_response(pf, name);
		return;
	}
	if (pf->depth == 2 && strcmp(name, DAV("response")) == 0 &&
	    pf->root_ms) {
		pf->resp_depth = pf->depth;
		free(pf->href);
		pf->href = NULL;
		memset(&pf->st, 0, sizeof(pf->st));
	} else if (pf->depth == 1)
		pf->root_ms = strcmp(name, DAV("multistatus")) == 0;
}

static void XMLCALL
pf_end(void *arg, const XML_Char *name)
{
	struct mig_pf *pf = arg;
	unsigned int d = pf->depth--;

	(void)name;
	if (pf->err != 0)
		return;
	if (pf->cap != CAP_NONE)
		pf_text_end(pf);
	else if (d == pf->rtype_depth)
		pf->rtype_depth = 0;
	else if (d == pf->prop_depth)
		pf->prop_depth = 0;
	else if (d == pf->ps_depth) {
		pf_propstat_end(pf);
		pf->ps_depth = 0;
	} else if (d == pf->resp_depth) {
		pf->resp_depth = 0;
		if (pf_emit(pf) != 0)
			(void)XML_StopParser(pf->xp, XML_FALSE);
	}
}

static void XMLCALL
pf_chars(void *arg, const XML_Char *s, int len)
{
	struct mig_pf *pf = arg;

	if (pf->err != 0 || pf->cap == CAP_NONE || len <= 0)
		return;
	if ((size_t)len > sizeof(pf->text) - 1 - pf->textlen) {
		pf_abort(pf, "property value too long");
		return;
	}
	memcpy(pf->text + pf->textlen, s, (size_t)len);
	pf->textlen += (size_t)len;
}

/* A multistatus has no DTD: refused before its internal subset is read. */
static void XMLCALL
pf_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	pf_abort(arg, "document type declaration refused");
}

/* Never reached with the DOCTYPE refused; a second line all the same. */
static void XMLCALL
pf_entity_decl(void *arg, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	pf_abort(arg, "entity declaration refused");
}

static int XMLCALL
pf_external(XML_Parser p, const XML_Char *context, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid)
{
	(void)p;
	(void)context;
	(void)base;
	(void)sysid;
	(void)pubid;
	return XML_STATUS_ERROR;
}

static int
pf_parser_new(struct mig_pf *pf)
{
	XML_Parser p;

	if ((p = XML_ParserCreateNS(NULL, NS_SEP)) == NULL)
		return mig_seterr(pf->ctx, MIG_ERR_NOMEM, "out of memory");
	XML_SetUserData(p, pf);
	XML_SetElementHandler(p, pf_start, pf_end);
	XML_SetCharacterDataHandler(p, pf_chars);
	XML_SetStartDoctypeDeclHandler(p, pf_doctype);
	XML_SetEntityDeclHandler(p, pf_entity_decl);
	XML_SetExternalEntityRefHandler(p, pf_external);
	(void)XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 6)
	/* A token split over many chunks is not re-parsed for each. */
	(void)XML_SetReparseDeferralEnabled(p, XML_TRUE);
#endif
	pf->xp = p;
	return 0;
}

int
mig_pf_init(struct mig_pf *pf, const char *base, const char *what,
    struct mig_ctx *ctx)
{
	memset(pf, 0, sizeof(*pf));
	pf->base = base;
	pf->what = what;
	pf->ctx = ctx;
	return pf_parser_new(pf);
}

void
mig_pf_clear(struct mig_pf *pf)
{
	size_t i;

	for (i = 0; i < pf->n; i++)
		free(pf->ents[i].name);
	free(pf->ents);
	free(pf->href);
	if (pf->xp != NULL)
		XML_ParserFree(pf->xp);
	memset(pf, 0, sizeof(*pf));
}

int
mig_pf_restart(struct mig_pf *pf, struct mig_ctx *ctx)
{
	const char *base = pf->base, *what = pf->what;

	mig_pf_clear(pf);
	return mig_pf_init(pf, base, what, ctx);
}

size_t
mig_pf_feed(void *arg, const char *buf, size_t len)
{
	struct mig_pf *pf = arg;
	size_t off, n;

	if (pf->err != 0)
		return 0;
	if (len > MIG_PF_BODY_MAX - pf->bytes) {
		(void)pf_fail(pf, "answer too large");
		return 0;
	}
	pf->bytes += len;
	for (off = 0; off < len; off += n) {
		n = len - off > FEED_MAX ? FEED_MAX : len - off;
		if (XML_Parse(pf->xp, buf + off, (int)n, XML_FALSE) !=
		    XML_STATUS_OK) {
			(void)pf_fail(pf, XML_ErrorString(
			    XML_GetErrorCode(pf->xp)));
			return 0;
		}
	}
	return len;
}

int
mig_pf_finish(struct mig_pf *pf)
{
	if (pf->err == 0 && XML_Parse(pf->xp, "", 0, XML_TRUE) !=
	    XML_STATUS_OK)
		(void)pf_fail(pf, XML_ErrorString(XML_GetErrorCode(pf->xp)));
	return pf->err;
}
