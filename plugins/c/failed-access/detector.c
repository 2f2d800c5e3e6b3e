/* failed-access: bursts of failed accesses, judged against the user's own
 * failure rate.
 *
 * Someone probing for tables they may not read, or replaying a stolen
 * password against several databases, leaves a burst of `failure`
 * outcomes. Everyone fails now and then (a typo, an expired grant), so the
 * question is whether this many failures in one hour is unusual for this
 * user.
 *
 * Model: each user's failures per active hour (an hour of UTC event time
 * with any event) are Poisson with rate
 *     lambda = max(rate_floor, (past failures + 0.5) / (past active hours + 1)).
 * When the failures of the current hour reach `min_failures`, the tail
 * probability p = P(X >= failures | lambda) is scored on the shared scale,
 * 10 * -log10(p) capped at 100, like every built-in detector. A finding is
 * reported when that score reaches `min_score`, and again in the same hour
 * only when it has risen by 10 points, so a long burst yields a handful of
 * findings. No findings until the user has `learning_hours` active hours.
 *
 * Events of an earlier hour than the user's current one (late events) count
 * towards the rate but are not scored.
 *
 * Memory: 32 bytes per user, in an array indexed by user id; ids of 2^20 or
 * more are ignored, so a hostile id cannot make the plugin allocate
 * gigabytes.
 *
 * Snapshot: "UEBAFAIL", a format version, the configuration and the users,
 * all little-endian, so restore gives exactly the same findings afterwards. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detector_plugin.h"

#define CONTRACT "0.1.0"
#define HOUR_MS 3600000LL
#define MAX_USERS (1u << 20)
#define NO_HOUR INT64_MIN
#define RESCORE_STEP 10.0
#define SNAP_MAGIC "UEBAFAIL"
#define SNAP_VERSION 1u
#define SNAP_HEADER (8u + 4u + 4u + 4u + 8u + 8u + 4u)
#define SNAP_USER (8u + 4u + 4u + 8u + 4u)

typedef exports_ueba_detector_detector_event_t event_t;
typedef exports_ueba_detector_detector_finding_t finding_t;
typedef exports_ueba_detector_detector_evidence_t evidence_t;
typedef detector_plugin_string_t string_t;

typedef struct {
  int64_t hour;           /* current hour (UTC hours since the epoch) */
  uint32_t failures;      /* failures in the current hour */
  uint32_t reported;      /* score last reported this hour, 0 = none */
  uint64_t past_failures; /* failures in earlier hours */
  uint32_t active_hours;  /* earlier hours with any event */
} user_t;

typedef struct {
  uint32_t min_failures;
  uint32_t learning_hours;
  double min_score;
  double rate_floor;
} config_t;

static config_t config = {5, 20, 30.0, 0.05};
static user_t *users;
static uint32_t user_count;

/* ---- numbers without libm ---------------------------------------------- */

static const double LN2 = 0.69314718055994530942;
static const double LN10 = 2.30258509299404568402;

/* Natural log for x > 0: x = m * 2^e with m in [1, 2), then
 * ln m = 2 atanh((m - 1) / (m + 1)) by its series (|z| <= 1/3). */
static double ln(double x) {
  if (!(x > 0.0)) {
    return -1e308;
  }
  union {
    double d;
    uint64_t u;
  } v = {x};
  int e = (int)((v.u >> 52) & 0x7ff) - 1023;
  v.u = (v.u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
  double z = (v.d - 1.0) / (v.d + 1.0), z2 = z * z, term = z, sum = 0.0;
  for (int k = 1; k < 60; k += 2) {
    sum += term / k;
    term *= z2;
  }
  return e * LN2 + 2.0 * sum;
}

/* e^x: x = n ln2 + r with |r| <= ln2 / 2, e^r by its Taylor series. */
static double exp_(double x) {
  if (x < -745.0) {
    return 0.0;
  }
  if (x > 709.0) {
    return 1e308;
  }
  double nf = x / LN2;
  int n = (int)(nf < 0 ? nf - 0.5 : nf + 0.5);
  double r = x - n * LN2, term = 1.0, sum = 1.0;
  for (int k = 1; k < 25; k++) {
    term *= r / k;
    sum += term;
  }
  while (n > 1000) {
    sum *= 0x1p1000;
    n -= 1000;
  }
  while (n < -1000) {
    sum *= 0x1p-1000;
    n += 1000;
  }
  union {
    double d;
    uint64_t u;
  } scale = {.u = (uint64_t)(n + 1023) << 52};
  return sum * scale.d;
}

/* ln k! */
static double ln_factorial(uint32_t k) {
  if (k > 1000) {
    double n = k;
    return n * ln(n) - n + 0.5 * ln(2.0 * 3.14159265358979323846 * n) + 1.0 / (12.0 * n);
  }
  double s = 0.0;
  for (uint32_t i = 2; i <= k; i++) {
    s += ln((double)i);
  }
  return s;
}

/* P(X >= k) for X ~ Poisson(lambda), summed from the k term upwards so a
 * tiny tail keeps its precision. */
static double poisson_tail(uint32_t k, double lambda) {
  if (k == 0) {
    return 1.0;
  }
  double log_pk = -lambda + k * ln(lambda) - ln_factorial(k);
  if (log_pk < -60.0) {
    return 0.0;
  }
  double sum = 0.0, term = 1.0;
  for (uint32_t i = 1; i < 2000 && term > 1e-17 * sum; i++) {
    sum += term;
    term *= lambda / (double)(k + i);
  }
  double p = exp_(log_pk) * sum;
  return p > 1.0 ? 1.0 : p;
}

/* The shared scale: 10 * -log10(p), 0 to 100. */
static double score_from_p(double p) {
  if (p <= 1e-10) {
    return 100.0;
  }
  if (p >= 1.0) {
    return 0.0;
  }
  return -10.0 * ln(p) / LN10;
}

/* ---- text ---------------------------------------------------------------- */

typedef struct {
  char buf[160];
  size_t len;
} text_t;

static void put(text_t *t, const char *s) {
  while (*s && t->len < sizeof t->buf - 1) {
    t->buf[t->len++] = *s++;
  }
  t->buf[t->len] = 0;
}

static void put_uint(text_t *t, uint64_t v) {
  char digits[21];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  char s[22];
  for (int i = 0; i < n; i++) {
    s[i] = digits[n - 1 - i];
  }
  s[n] = 0;
  put(t, s);
}

/* A non-negative number with two decimals. */
static void put_fixed2(text_t *t, double v) {
  uint64_t hundredths = (uint64_t)(v * 100.0 + 0.5);
  put_uint(t, hundredths / 100);
  put(t, ".");
  if (hundredths % 100 < 10) {
    put(t, "0");
  }
  put_uint(t, hundredths % 100);
}

static string_t dup(const char *s) {
  string_t out;
  detector_plugin_string_dup(&out, s);
  return out;
}

static int equals(const string_t *s, const char *lit) {
  size_t n = strlen(lit);
  return s->len == n && memcmp(s->ptr, lit, n) == 0;
}

/* A TOML number: [+-]digits[.digits][(e|E)[+-]digits], `_` between digits. */
static int parse_number(const string_t *s, double *out) {
  size_t i = 0, n = s->len;
  const uint8_t *p = s->ptr;
  double sign = 1.0, v = 0.0;
  int digits = 0;
  if (i < n && (p[i] == '+' || p[i] == '-')) {
    sign = p[i++] == '-' ? -1.0 : 1.0;
  }
  for (; i < n && ((p[i] >= '0' && p[i] <= '9') || p[i] == '_'); i++) {
    if (p[i] != '_') {
      v = v * 10.0 + (p[i] - '0');
      digits++;
    }
  }
  if (i < n && p[i] == '.') {
    double scale = 0.1;
    for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
      v += (p[i] - '0') * scale;
      scale /= 10.0;
    }
  }
  if (digits == 0) {
    return 0;
  }
  if (i < n && (p[i] == 'e' || p[i] == 'E')) {
    int esign = 1, e = 0, edigits = 0;
    i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) {
      esign = p[i++] == '-' ? -1 : 1;
    }
    for (; i < n && p[i] >= '0' && p[i] <= '9' && e < 400; i++, edigits++) {
      e = e * 10 + (p[i] - '0');
    }
    if (edigits == 0) {
      return 0;
    }
    while (e--) {
      v = esign > 0 ? v * 10.0 : v / 10.0;
    }
  }
  if (i != n) {
    return 0;
  }
  *out = sign * v;
  return 1;
}

/* ---- the contract -------------------------------------------------------- */

static void config_key(exports_ueba_detector_detector_config_key_t *k, const char *name,
                       const char *def, const char *description) {
  k->name = dup(name);
  k->default_ = dup(def);
  k->description = dup(description);
}

void exports_ueba_detector_detector_describe(exports_ueba_detector_detector_info_t *ret) {
  ret->name = dup("failed-access");
  ret->version = dup("0.1.0");
  ret->description = dup("bursts of failed accesses beyond the user's own failure rate");
  ret->contract = dup(CONTRACT);
  size_t n = 4;
  exports_ueba_detector_detector_config_key_t *keys = malloc(n * sizeof *keys);
  if (!keys) {
    abort();
  }
  config_key(&keys[0], "min_failures", "5", "failures in one hour before the hour is scored");
  config_key(&keys[1], "min_score", "30.0", "findings scoring below this (0-100) are dropped");
  config_key(&keys[2], "rate_floor", "0.05",
             "the least failures per active hour a user is assumed to have, so one who "
             "never failed is not judged by a rate of zero");
  config_key(&keys[3], "learning_hours", "20",
             "a user's first active hours that only learn their failure rate (no findings)");
  ret->config.ptr = keys;
  ret->config.len = n;
}

static int invalid(exports_ueba_detector_detector_config_error_t *err, const string_t *key,
                   const char *message) {
  err->tag = EXPORTS_UEBA_DETECTOR_DETECTOR_CONFIG_ERROR_INVALID_VALUE;
  detector_plugin_string_dup_n(&err->val.invalid_value.key, (const char *)key->ptr, key->len);
  err->val.invalid_value.message = dup(message);
  return 0;
}

static int set(const string_t *key, const string_t *value,
               exports_ueba_detector_detector_config_error_t *err) {
  double v;
  int whole = parse_number(value, &v) && v == (double)(int64_t)v;
  if (equals(key, "min_failures")) {
    if (!whole || v < 1 || v > 1e6) {
      return invalid(err, key, "expected a whole number from 1 to 1000000");
    }
    config.min_failures = (uint32_t)v;
  } else if (equals(key, "learning_hours")) {
    if (!whole || v < 0 || v > 1e6) {
      return invalid(err, key, "expected a whole number from 0 to 1000000");
    }
    config.learning_hours = (uint32_t)v;
  } else if (equals(key, "min_score")) {
    if (!parse_number(value, &v) || v < 0 || v > 100) {
      return invalid(err, key, "expected a number from 0 to 100");
    }
    config.min_score = v;
  } else if (equals(key, "rate_floor")) {
    if (!parse_number(value, &v) || v < 1e-6 || v > 100) {
      return invalid(err, key, "expected a number from 0.000001 to 100");
    }
    config.rate_floor = v;
  } else {
    err->tag = EXPORTS_UEBA_DETECTOR_DETECTOR_CONFIG_ERROR_UNKNOWN_KEY;
    detector_plugin_string_dup_n(&err->val.unknown_key, (const char *)key->ptr, key->len);
    return 0;
  }
  return 1;
}

bool exports_ueba_detector_detector_configure(detector_plugin_list_tuple2_string_string_t *pairs,
                                              exports_ueba_detector_detector_config_error_t *err) {
  int ok = 1;
  for (size_t i = 0; ok && i < pairs->len; i++) {
    ok = set(&pairs->ptr[i].f0, &pairs->ptr[i].f1, err);
  }
  detector_plugin_list_tuple2_string_string_free(pairs);
  return ok;
}

/* The user's state, growing the table to hold `id`; NULL when the id is
 * beyond MAX_USERS or memory ran out. */
static user_t *user(uint32_t id) {
  if (id >= MAX_USERS) {
    return NULL;
  }
  if (id >= user_count) {
    uint32_t n = user_count ? user_count : 64;
    while (n <= id) {
      n *= 2;
    }
    user_t *grown = realloc(users, (size_t)n * sizeof *grown);
    if (!grown) {
      return NULL;
    }
    for (uint32_t i = user_count; i < n; i++) {
      grown[i] = (user_t){NO_HOUR, 0, 0, 0, 0};
    }
    users = grown;
    user_count = n;
  }
  return &users[id];
}

typedef struct {
  finding_t *ptr;
  size_t len, cap;
} findings_t;

static void evidence_int(evidence_t *e, const char *key, int64_t v) {
  e->key = dup(key);
  e->value.tag = EXPORTS_UEBA_DETECTOR_DETECTOR_EVIDENCE_VALUE_INTEGER;
  e->value.val.integer = v;
}

static void evidence_float(evidence_t *e, const char *key, double v) {
  e->key = dup(key);
  e->value.tag = EXPORTS_UEBA_DETECTOR_DETECTOR_EVIDENCE_VALUE_FLOAT;
  e->value.val.float_ = v;
}

static int report(findings_t *out, const event_t *e, const user_t *u, double lambda, double p,
                  double score) {
  if (out->len == out->cap) {
    size_t cap = out->cap ? out->cap * 2 : 16;
    finding_t *grown = realloc(out->ptr, cap * sizeof *grown);
    if (!grown) {
      return 0;
    }
    out->ptr = grown;
    out->cap = cap;
  }
  evidence_t *ev = malloc(4 * sizeof *ev);
  if (!ev) {
    return 0;
  }
  evidence_int(&ev[0], "failures", u->failures);
  evidence_float(&ev[1], "baseline_per_hour", lambda);
  evidence_int(&ev[2], "active_hours", u->active_hours);
  evidence_float(&ev[3], "p", p);
  text_t reason = {{0}, 0};
  put_uint(&reason, u->failures);
  put(&reason, " failed accesses this hour; usual ~");
  put_fixed2(&reason, lambda);
  put(&reason, " per active hour over ");
  put_uint(&reason, u->active_hours);
  put(&reason, " hours");
  finding_t *f = &out->ptr[out->len++];
  f->event = e->seq;
  f->score = (float)score;
  f->reason = dup(reason.buf);
  f->evidence.ptr = ev;
  f->evidence.len = 4;
  return 1;
}

static int observe_one(const event_t *e, findings_t *out) {
  user_t *u = user(e->user);
  if (!u) {
    return 1;
  }
  int failed = e->outcome == EXPORTS_UEBA_DETECTOR_DETECTOR_OUTCOME_FAILURE;
  int64_t hour = e->time_ms / HOUR_MS - (e->time_ms % HOUR_MS < 0);
  if (u->hour == NO_HOUR) {
    u->hour = hour;
  } else if (hour > u->hour) {
    u->active_hours++;
    u->past_failures += u->failures;
    u->hour = hour;
    u->failures = 0;
    u->reported = 0;
  } else if (hour < u->hour) {
    u->past_failures += failed;
    return 1;
  }
  if (!failed) {
    return 1;
  }
  u->failures++;
  if (u->active_hours < config.learning_hours || u->failures < config.min_failures) {
    return 1;
  }
  double lambda = ((double)u->past_failures + 0.5) / ((double)u->active_hours + 1.0);
  if (lambda < config.rate_floor) {
    lambda = config.rate_floor;
  }
  double p = poisson_tail(u->failures, lambda);
  double score = score_from_p(p);
  if (score < config.min_score || score < u->reported + RESCORE_STEP) {
    return 1;
  }
  u->reported = (uint32_t)score;
  return report(out, e, u, lambda, p < 1e-10 ? 1e-10 : p, score);
}

bool exports_ueba_detector_detector_observe(exports_ueba_detector_detector_batch_t *batch,
                                            exports_ueba_detector_detector_list_finding_t *ret,
                                            exports_ueba_detector_detector_detector_error_t *err) {
  findings_t out = {NULL, 0, 0};
  int ok = 1;
  for (size_t i = 0; ok && i < batch->events.len; i++) {
    ok = observe_one(&batch->events.ptr[i], &out);
  }
  exports_ueba_detector_detector_batch_free(batch);
  if (!ok) {
    for (size_t i = 0; i < out.len; i++) {
      exports_ueba_detector_detector_finding_free(&out.ptr[i]);
    }
    free(out.ptr);
    err->message = dup("out of memory");
    return false;
  }
  ret->ptr = out.ptr;
  ret->len = out.len;
  return true;
}

/* ---- snapshot ------------------------------------------------------------ */

static uint8_t *put_le(uint8_t *p, uint64_t v, unsigned bytes) {
  for (unsigned i = 0; i < bytes; i++) {
    *p++ = (uint8_t)(v >> (8 * i));
  }
  return p;
}

static uint64_t get_le(const uint8_t **p, unsigned bytes) {
  uint64_t v = 0;
  for (unsigned i = 0; i < bytes; i++) {
    v |= (uint64_t)(*p)[i] << (8 * i);
  }
  *p += bytes;
  return v;
}

static uint64_t bits(double d) {
  union {
    double d;
    uint64_t u;
  } v = {d};
  return v.u;
}

static double from_bits(uint64_t u) {
  union {
    uint64_t u;
    double d;
  } v = {u};
  return v.d;
}

void exports_ueba_detector_detector_snapshot(detector_plugin_list_u8_t *ret) {
  size_t len = SNAP_HEADER + (size_t)user_count * SNAP_USER;
  uint8_t *buf = malloc(len);
  if (!buf) {
    abort();
  }
  uint8_t *p = buf;
  memcpy(p, SNAP_MAGIC, 8);
  p += 8;
  p = put_le(p, SNAP_VERSION, 4);
  p = put_le(p, config.min_failures, 4);
  p = put_le(p, config.learning_hours, 4);
  p = put_le(p, bits(config.min_score), 8);
  p = put_le(p, bits(config.rate_floor), 8);
  p = put_le(p, user_count, 4);
  for (uint32_t i = 0; i < user_count; i++) {
    const user_t *u = &users[i];
    p = put_le(p, (uint64_t)u->hour, 8);
    p = put_le(p, u->failures, 4);
    p = put_le(p, u->reported, 4);
    p = put_le(p, u->past_failures, 8);
    p = put_le(p, u->active_hours, 4);
  }
  ret->ptr = buf;
  ret->len = len;
}

static bool refuse(exports_ueba_detector_detector_detector_error_t *err, const char *why,
                   detector_plugin_list_u8_t *state) {
  detector_plugin_list_u8_free(state);
  err->message = dup(why);
  return false;
}

bool exports_ueba_detector_detector_restore(detector_plugin_list_u8_t *state,
                                            exports_ueba_detector_detector_detector_error_t *err) {
  const uint8_t *p = state->ptr;
  if (state->len < SNAP_HEADER || memcmp(p, SNAP_MAGIC, 8) != 0) {
    return refuse(err, "not a failed-access snapshot", state);
  }
  p += 8;
  if (get_le(&p, 4) != SNAP_VERSION) {
    return refuse(err, "unsupported failed-access snapshot version", state);
  }
  config_t c;
  c.min_failures = (uint32_t)get_le(&p, 4);
  c.learning_hours = (uint32_t)get_le(&p, 4);
  c.min_score = from_bits(get_le(&p, 8));
  c.rate_floor = from_bits(get_le(&p, 8));
  uint32_t n = (uint32_t)get_le(&p, 4);
  if (n > MAX_USERS || state->len != SNAP_HEADER + (size_t)n * SNAP_USER) {
    return refuse(err, "failed-access snapshot is truncated or corrupt", state);
  }
  user_t *restored = n ? malloc((size_t)n * sizeof *restored) : NULL;
  if (n && !restored) {
    return refuse(err, "out of memory", state);
  }
  for (uint32_t i = 0; i < n; i++) {
    user_t *u = &restored[i];
    u->hour = (int64_t)get_le(&p, 8);
    u->failures = (uint32_t)get_le(&p, 4);
    u->reported = (uint32_t)get_le(&p, 4);
    u->past_failures = get_le(&p, 8);
    u->active_hours = (uint32_t)get_le(&p, 4);
  }
  free(users);
  users = restored;
  user_count = n;
  config = c;
  detector_plugin_list_u8_free(state);
  return true;
}
