/*
 * lapack_shim.h -- the LAPACK routine the hybrid core calls (OpenBLAS ships
 * it but no lapacke.h).  Fortran calling convention: everything by pointer,
 * column-major storage.
 */
#ifndef RP_HYB_LAPACK_SHIM_H
#define RP_HYB_LAPACK_SHIM_H

/* Solves A X = B for symmetric positive definite A (n x n, the uplo
 * triangle is read and overwritten by its Cholesky factor); B (n x nrhs)
 * is overwritten by X.  info > 0: A is not positive definite. */
extern void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda,
                   double *b, const int *ldb, int *info);

#endif
