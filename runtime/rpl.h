/*
 * rpl.h -- helpers every binding uses: boxes for C objects and their
 * lifetimes, option tables, raising core errors, telling the GC about C
 * memory, and the push/check functions of the shared data model's types
 * (DESIGN.md "Data model": IdMap, Events, Matrix, Dense), which belong to
 * the runtime (runtime/lua_data.c over runtime/core), not to a module: a
 * binding depends on this header and runtime/core, never on another
 * module's binding (make lint checks the includes).
 *
 * A box is a full userdata holding one C object.  It is pushed empty (NULL)
 * first and filled after the C object is built, as liolib does, so a memory
 * error in between cannot leak.  A freed or empty box raises "attempt to use
 * a freed recpipe.Matrix" rather than crashing.
 *
 * Lifetimes.  A C object lives while its box holds it, while an operation
 * pins it, and while another object holds it:
 *  - obj:free() (and __close, __gc) drops the box's hold: the box is
 *    unusable from then on, and freeing twice is harmless;
 *  - an operation pins what it borrows (rpL_pin*): until the C function
 *    returns or raises, Lua code it runs (callbacks, metamethods of the
 *    tables it reads, finalizers at its allocations) cannot free it;
 *  - an object built on another holds it (rpL_hold: a Dense view of a
 *    model's factors, a blend of its sources) until it is destroyed itself.
 * The C object goes when the last of these ends.  Bindings never keep a
 * pointer borrowed with rpL_checkobj across anything that can run Lua code
 * (a call, a metamethod, an allocation of Lua memory): they pin it.
 */
#ifndef RP_RPL_H
#define RP_RPL_H

#include <lauxlib.h>
#include <lua.h>

#include "csr.h"
#include "dense.h"
#include "recommender.h"
#include "events.h"
#include "idmap.h"
#include "opts.h"
#include "rp.h"

#define RP_IDMAP_T "recpipe.IdMap"
#define RP_EVENTS_T "recpipe.Events"
#define RP_MATRIX_T "recpipe.Matrix"
#define RP_DENSE_T "recpipe.Dense"

/* ---- boxes -------------------------------------------------------------- */
/* What the box layer knows of a type. */
typedef struct rpL_class {
  const char *name;           /* the metatable's __name, "recpipe.Matrix" */
  void (*destroy)(void *obj); /* frees (or releases) the C object */
  /* The rp_recommender the object answers through (NULL: not a
   * recommender); obj is alive, its box at idx.  May update it first (a
   * hybrid's sizes after its maps grew). */
  rp_recommender *(*recommender)(lua_State *L, int idx, void *obj);
} rpL_class;

/* A box: user value 1 is the type's own (a model's training matrix, ...),
 * user value 2 the list of boxes it holds (rpL_hold). */
typedef struct rpL_box {
  void *obj;  /* what Lua reaches; NULL when empty or freed (first field:
                 `void **slot` points here) */
  void *kept; /* freed while pinned or held: destroyed when that ends */
  const rpL_class *cls;
  int pins; /* operations using the object and objects holding it */
} rpL_box;

/* Creates (once) the metatable of cls with __name, __index = a methods
 * table filled from methods, and the metamethods in meta (NULL-terminated
 * lists; either may be NULL).  free, __gc and __close are the box layer's
 * (lifetimes above) unless meta names them; a recommender type also gets
 * the method __recommender (the object itself).  Leaves nothing on the
 * stack. */
void rpL_newtype(lua_State *L, const rpL_class *cls, const luaL_Reg *methods, const luaL_Reg *meta);
/* Pushes a new empty box of type tname (registered); returns its slot. */
void **rpL_newbox(lua_State *L, const char *tname);
/* Pushes the method `name` of type tname (nil when there is none) and
 * returns its Lua type: the fallback of an __index metamethod, which
 * rpL_newtype leaves the methods in a "methods" field for. */
int rpL_method(lua_State *L, const char *tname, const char *name);
/* For an __index metamethod of a tname box at 1, key k: the object, or,
 * when the box was freed, NULL after pushing the method k (so k is found
 * on a freed box: obj:free() twice), raising for any other key. */
void *rpL_indexobj(lua_State *L, const char *tname, const char *k);
/* The object in the box at idx (errors when not a tname box or freed).
 * Borrowed, not pinned: see the lifetime rule above. */
void *rpL_checkobj(lua_State *L, int idx, const char *tname);
/* The object or NULL when idx is not a tname box (errors when freed). */
void *rpL_testobj(lua_State *L, int idx, const char *tname);
/* The slot of a box (for __tostring: may hold NULL). */
void **rpL_slot(lua_State *L, int idx, const char *tname);
/* The box at idx when it is any recpipe box, else NULL. */
rpL_box *rpL_tobox(lua_State *L, int idx);
/* obj:free() for every type: the lifetime rule above.  Also __gc and
 * __close. */
int rpL_free(lua_State *L);

/* ---- pins: what an operation uses lives until it ends -------------------------
 * Each pin pushes a to-be-closed guard: call before pushing results, and
 * never lua_settop/lua_pop/lua_remove below a guard (the C function's return
 * or error closes it).  A coroutine that dies inside an operation releases
 * its pins when it is collected (or coroutine.close). */
/* The object in the tname box at idx (as rpL_checkobj), pinned. */
void *rpL_pin(lua_State *L, int idx, const char *tname);
/* The same for options[field] (NULL, nothing pushed, when absent; a bad
 * value raises naming the field).  The box is referenced by the guard. */
void *rpL_pinopt(lua_State *L, int opt, const char *field, const char *tname);
/* The tname box at the top of the stack, pinned: the box is replaced by its
 * guard (for values read from tables in a loop).  Errors name argument arg. */
void *rpL_pintop(lua_State *L, int arg, const char *tname);
/* The recommender of the value at idx, pinned: a recpipe object whose type
 * is a recommender, or any value whose __recommender() returns one (the
 * protocol of Lua objects wrapping a C recommender: a blend).  Raises
 * "bad argument #idx (a recommender expected, ...)" otherwise, and for a
 * freed object.  The result is valid until the running C function ends. */
rp_recommender *rpL_pinrec(lua_State *L, int idx);

/* ---- holds: an object built on another keeps it ---------------------------------
 * The box at holder keeps the object of the box at held (pinned by the
 * caller, so it cannot go while the hold is made) alive until its own object
 * is destroyed (or it is collected empty).  Held boxes are kept
 * in order: rpL_held pushes the i-th (1-based; nil past the end). */
void rpL_hold(lua_State *L, int holder, int held);
int rpL_held(lua_State *L, int holder, int i);
/* The recommender of the value at idx (as rpL_pinrec), held by the box at
 * holder instead of pinned: a blend keeps its sources. */
rp_recommender *rpL_holdrec(lua_State *L, int holder, int idx);
/* The recommender of the held box at idx (rpL_held), even after its free(). */
rp_recommender *rpL_heldrec(lua_State *L, int idx);
/* The object of the box at idx even after its free() (kept alive by a pin
 * or a hold), or NULL once destroyed.  For holders using what they hold. */
void *rpL_liveobj(lua_State *L, int idx);

/* ---- errors --------------------------------------------------------------- */
/* Raises err's message as a Lua error (never returns). */
int rpL_error(lua_State *L, const rp_err *err);

/* ---- options ----------------------------------------------------------------
 * idx is the options table (absent or nil = all defaults).  Errors read
 * "bad argument #idx to 'f' (field 'k' must be ..., got ...)". */
void rpL_checkopts(lua_State *L, int idx, const char *const allowed[]);
int rpL_hasopt(lua_State *L, int idx, const char *field);
lua_Integer rpL_optinteger(lua_State *L, int idx, const char *field, lua_Integer def,
                           lua_Integer lo, lua_Integer hi);
double rpL_optnumber(lua_State *L, int idx, const char *field, double def, double lo, double hi);
const char *rpL_optstring(lua_State *L, int idx, const char *field, const char *def);
int rpL_optboolean(lua_State *L, int idx, const char *field, int def);
/* Index into names (NULL-terminated) of the string in field, def if absent. */
int rpL_optenum(lua_State *L, int idx, const char *field, int def, const char *const names[]);
/* Reads the options table at idx (absent or nil = all defaults) into o as
 * the descriptors d say (runtime/core/opts.h): defaults from d, unknown keys
 * refused listing d's names, each present key type- and range-checked.
 * RP_OPT_OTHER entries are known keys the caller reads itself. */
void rpL_readopts(lua_State *L, int idx, const rp_optdesc *d, void *o);
/* Refuses keys of the options at idx that d does not name. */
void rpL_checkoptsd(lua_State *L, int idx, const rp_optdesc *d);
/* The same for the table options[field] at idx (a nested table such as
 * validation = {...}), errors naming argument idx and field 'field.key';
 * the table stays pushed (1) unless absent (0, o has the defaults). */
int rpL_readsubopts(lua_State *L, int idx, const char *field, const rp_optdesc *d, void *o);
/* Pushes d as a Lua table: an array of entries {name, type, default, min,
 * max, min_open, values, what} in d's order, each also under its name. */
void rpL_pushoptdesc(lua_State *L, const rp_optdesc *d);
/* The option tables of a module's functions, exported as
 * rp.<module>.options([fname]). */
typedef struct rpL_optset {
  const char *fname;
  const rp_optdesc *d;
} rpL_optset;
/* Sets field "options" of the table at lib to a function: options(fname)
 * -> the table of fname's options (rpL_pushoptdesc); options() -> a table
 * of them keyed by function name.  Also sets "_checkopts": the checker
 * the module's Lua parts use instead of their own key lists and defaults,
 * _checkopts(fname, opts) -> the options with the defaults filled in (an
 * unknown key, a wrong type or a value out of range is an error naming
 * argument #2 and the field, listing the known keys).  sets ends with
 * {NULL, NULL} and must outlive the state. */
void rpL_setoptions(lua_State *L, int lib, const rpL_optset *sets);
/* Pushes a table of o's described values (enums by name; absent strings
 * and RP_OPT_NODEFAULT fields still at their default left out). */
void rpL_pushoptvalues(lua_State *L, const rp_optdesc *d, const void *o);
/* Pushes field's value (any type) and returns its type. */
int rpL_getopt(lua_State *L, int idx, const char *field);
/* Raises a bad-field error for idx/field with a formatted description. */
int rpL_fielderror(lua_State *L, int idx, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A time at stack index vidx for field of the options at idx: integer
 * Unix seconds, a number (floored) or ISO 8601 text; raises a field error
 * naming field otherwise. */
int64_t rpL_checktime(lua_State *L, int idx, int vidx, const char *field);
/* The same without raising: 1 and *out set, or 0 when the value at vidx is
 * no time. */
int rpL_totime(lua_State *L, int vidx, int64_t *out);

/* ---- memory ---------------------------------------------------------------- */
/* A scratch array of count (at least 1) elements of size bytes, in a
 * userdata pushed on the stack: the GC frees it, so a Lua error cannot
 * leak it. */
void *rpL_scratch(lua_State *L, size_t count, size_t size);
/* Call after building a large C object: runs a GC cycle when C memory has
 * grown well past what it was after the last collection (Torch7's trick),
 * so loops that build matrices do not balloon. */
void rpL_gcpressure(lua_State *L);

/* ---- the shared data model (runtime/lua_data.c) ------------------------------
 * IdMap, Events, Matrix and Dense are the runtime's types, not a module's:
 * their metatables and methods are registered in every Lua state
 * (rpL_opendata, called by the host before any module loads), so any
 * binding can take and return them whichever modules are in the build.
 * Push functions take ownership of the object (or, for IdMap, a reference);
 * on a Lua memory error the object is freed. */
void rpL_opendata(lua_State *L);
void rpL_pushidmap(lua_State *L, rp_idmap *m); /* retains m */
rp_idmap *rpL_checkidmap(lua_State *L, int idx);
void rpL_pushevents(lua_State *L, rp_events *ev);
rp_events *rpL_checkevents(lua_State *L, int idx);
void rpL_pushmatrix(lua_State *L, rp_csr *m);
rp_csr *rpL_checkmatrix(lua_State *L, int idx);
rp_csr *rpL_testmatrix(lua_State *L, int idx);
/* Pushes a Dense; when owner_idx != 0 the Dense holds the box at that index
 * (a view into its storage: rpL_hold). */
void rpL_pushdense(lua_State *L, rp_dense *d, int owner_idx);
rp_dense *rpL_checkdense(lua_State *L, int idx);
/* Event type weights {type = number, ...} from the table at tidx, for
 * argument arg (its field `field`, or the argument itself when NULL): the
 * rules of read_events' `weights` and ev:weight alike.  Fills names
 * (borrowed from the table) and values (RP_MAX_WEIGHTS room each); returns
 * the count (>= 1), raises otherwise. */
int rpL_checkweights(lua_State *L, int arg, const char *field, int tidx, const char **names,
                     float *values);

/* Index of external id at idx in map: a string id (a number counts as its
 * text), or -1 when absent.  Neither allocates nor runs Lua code, so it may
 * run while a borrowed (unpinned) object is in use. */
int32_t rpL_lookup(lua_State *L, int idx, const rp_idmap *map);
/* Pushes external id i of map. */
void rpL_pushid(lua_State *L, const rp_idmap *map, int32_t i);
/* Indices on map of the ids in the array at idx (ids not on map, and every
 * id when map is NULL, are dropped; order and repeats are kept), in a
 * scratch userdata pushed on the stack; *n gets the count.  Raises when
 * idx is not a table. */
int32_t *rpL_idlist(lua_State *L, int idx, const rp_idmap *map, int32_t *n);
/* The same for field of the options at opt, pushing only the scratch;
 * NULL with *n = 0 and nothing pushed when the field is absent.  Raises
 * "field 'deny' must be a list of ids" when it is not a table. */
int32_t *rpL_optidlist(lua_State *L, int opt, const char *field, const rp_idmap *map, int32_t *n);
/* Pushes an array of the external ids on map of idx[0..n) (1-based
 * integers when map is NULL). */
void rpL_pushids(lua_State *L, const rp_idmap *map, const int32_t *idx, int32_t n);
/* Pushes two arrays: the ids of idx[0..n) as rpL_pushids, and
 * scores[0..n) (a recommendation list; a matrix row and its values). */
void rpL_pushlists(lua_State *L, const rp_idmap *map, const int32_t *idx, const float *scores,
                   int32_t n);
/* Returns nil and fmt (one %s) formatted with the value at idx as text:
 * the `nil, message` answer for an id a method does not know. */
int rpL_nilmsg(lua_State *L, const char *fmt, int idx);

/* ---- the recommender protocol (runtime/rpl_rec.c) --------------------------
 * obj:recommend(user, opts) and obj:recommend_all(opts) for any object that
 * holds an rp_recommender (DESIGN.md, "the Lua recommender protocol").  The
 * options k, exclude, items, deny, users and threads, the id look-ups, the
 * batch call and the result tables are done here, once; what is particular
 * to a kind of recommender comes in through its rpL_recspec. */
typedef struct rpL_recreq {
  int opt;               /* stack index of the options (for the kind's own options) */
  int32_t user;          /* index on rec->users; -1 when the id is not on it */
  int32_t k;             /* room in items/scores: opts.k capped at the catalogue (>= 1) */
  const rp_csr *exclude; /* opts.exclude, or NULL */
  int32_t *deny;         /* opts.deny on rec->items (as rpL_optidlist; scratch the */
  int32_t ndeny;         /* callback may reorder), or NULL */
  int32_t *allow;        /* opts.items likewise; NULL = no allow list */
  int32_t nallow;
} rpL_recreq;

typedef struct rpL_recspec {
  const char *tname;        /* the type of the object (checked: `one` casts rec->self) */
  const char *const *known; /* the options recommend accepts */
  /* Answers one request: top q->k into items/scores, count in *n, RP_OK
   * (else a status with err set: raised).  For a user it cannot answer it
   * sets *why to a format with one %s (the user id as given) and recommend
   * returns nil and that message; a format built with lua_pushfstring may
   * stay on the stack. */
  int (*one)(lua_State *L, const rp_recommender *rec, rpL_recreq *q, int32_t *items, float *scores,
             int32_t *n, const char **why, rp_err *err);
  /* Raises when the exclude matrix at option index opt cannot be used with
   * rec (NULL: any matrix). */
  void (*check_exclude)(lua_State *L, int opt, const rp_recommender *rec, const rp_csr *x);
  /* Does recommend_all list user u (on the map) even with an empty list
   * (everything excluded)?  NULL: only users who got items are listed. */
  int (*listed)(const rp_recommender *rec, int32_t u);
  /* 1: ids not on the user map are still asked (as index -1) and listed
   * when they get items (popularity answers anyone); 0: they are left out,
   * and recommend_all needs a user map. */
  int strangers;
  /* The options recommend_all accepts (NULL: users, k, exclude, threads) */
  const char *const *known_all;
  /* recommend_all's batch, given its options at index opt (NULL: the
   * recommender's own rec->recommend, which takes no options) */
  int (*batch)(lua_State *L, int opt, const rp_recommender *rec, const int32_t *users, int32_t n,
               int32_t k, const rp_csr *exclude, int threads, int32_t *items, float *scores,
               int32_t *cnt, rp_err *err);
} rpL_recspec;

/* obj:recommend(user, opts) with obj (a recommender box, pinned here) at 1
 * -> items, scores | nil, message.  opts: k (1..2^24, default 10),
 * exclude (Matrix), items and deny (lists of ids) and spec->known's own. */
int rpL_recommend(lua_State *L, const rpL_recspec *spec);
/* obj:recommend_all{users, k, exclude, threads} -> two tables keyed by user
 * id (as given in users, else the map's ids): item-id arrays, score arrays;
 * and the number of users asked for (given, else on the map) left out of
 * them because the recommender does not know them. */
int rpL_recommend_all(lua_State *L, const rpL_recspec *spec);

#endif
