/*
 * rio.h -- compressed-aware file I/O for every core.
 *
 * Readers open a plain file, a gzip file (detected by its magic bytes, not
 * its name) or standard input ("-"), and report a truncated or corrupt gzip
 * stream as an error, never as a short read.  Writers write to a temporary
 * name beside the target and rename it into place on commit, so a crash or
 * an error never leaves a half-written file; a ".gz" name compresses.
 */
#ifndef RP_RIO_H
#define RP_RIO_H

#include "rp.h"
#include <stdint.h>
#include <sys/types.h>

typedef struct rp_reader rp_reader;

/* Opens path ("-" = stdin).  Returns a new reader owned by the caller, or
 * NULL with err set. */
rp_reader *rp_reader_open(const char *path, rp_err *err);
/* Reads up to n bytes; returns the count, 0 at end of input, -1 on error
 * (err set, naming the file). */
ssize_t rp_reader_read(rp_reader *r, void *buf, size_t n, rp_err *err);
/* Reads exactly n bytes or fails: RP_EFORMAT "truncated" at end of input. */
int rp_reader_readall(rp_reader *r, void *buf, size_t n, rp_err *err);
/* What the input can still deliver, in bytes, to check a count read from a
 * file's header before anything is allocated from it: for a plain regular
 * file exactly what is left (*exact = 1); for a gzip file of known size an
 * upper bound, 1032 times the compressed bytes left (deflate's largest
 * expansion) plus a little (*exact = 0); UINT64_MAX for pipes, standard
 * input and files whose size is unknown (*exact = 0).  exact may be NULL. */
uint64_t rp_reader_left(const rp_reader *r, int *exact);
/* Reads exactly n bytes to (*buf) + at, where *buf is a block of *cap
 * bytes from rp_malloc (NULL and 0 at first; the caller frees *buf whatever
 * happens), grown to hold at + n bytes without ever holding much more
 * memory than the input really delivers: when the bytes left are known
 * exactly (a plain file) and fewer than n, it fails before allocating;
 * otherwise *buf grows as data arrives, to at most twice the bytes it holds
 * (and at least 64 KiB).  So a header announcing more than a stream holds
 * fails as truncated (RP_EFORMAT) having allocated about what it held. */
int rp_reader_read_grow(rp_reader *r, void **buf, size_t *cap, size_t at, size_t n, rp_err *err);
/* Compressed bytes consumed so far and the file size (0 when unknown). */
uint64_t rp_reader_pos(const rp_reader *r);
uint64_t rp_reader_size(const rp_reader *r);
int rp_reader_is_gzip(const rp_reader *r);
const char *rp_reader_path(const rp_reader *r);
void rp_reader_close(rp_reader *r); /* accepts NULL */

typedef struct rp_writer rp_writer;
/* Opens a writer for path ("-" = stdout, written directly).  Gzip when the
 * name ends in ".gz".  Returns a new writer, or NULL with err set.  The
 * temporary file is "<path>.tmp.<pid>"; opening removes those of path left
 * by processes that are gone (a save killed before its rename), never one
 * of a live process. */
rp_writer *rp_writer_open(const char *path, rp_err *err);
/* Sets the gzip compression level (1 fastest .. 9 smallest; the default is
 * 6) of a ".gz" writer before anything is written; a no-op on plain files. */
int rp_writer_gzip_level(rp_writer *w, int level, rp_err *err);
int rp_writer_write(rp_writer *w, const void *buf, size_t n, rp_err *err);
int rp_writer_printf(rp_writer *w, rp_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Flushes, closes and renames into place; frees w whatever happens. */
int rp_writer_commit(rp_writer *w, rp_err *err);
/* Discards the temporary file and frees w (accepts NULL). */
void rp_writer_abort(rp_writer *w);

/* Does path end with suffix? */
int rp_has_suffix(const char *path, const char *suffix);

#endif
