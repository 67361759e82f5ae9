/*
 * lapack.h -- the few LAPACK routines the als module calls.  OpenBLAS
 * ships them (its own C implementations) but no lapacke.h, so they are
 * declared here with the Fortran calling convention: every argument by
 * pointer, column-major storage.  spotrf_ is implemented in C inside
 * OpenBLAS (interface/lapack/potrf.c) and takes no hidden string-length
 * argument; we only ever pass one-character strings.
 */
#ifndef RP_ALS_LAPACK_H
#define RP_ALS_LAPACK_H

/* Cholesky factorisation of a symmetric positive definite matrix:
 * A = U^T U (uplo "U") or L L^T ("L"), in place.  info > 0: the leading
 * minor of that order is not positive definite. */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);

#endif
