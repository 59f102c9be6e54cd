/* libasyncrt - asynchronous task runtime for C
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if !defined(__ASYNCRT_H_INSIDE__) && !defined(ASYNCRT_COMPILATION)
#error "Only <asyncrt/asyncrt.h> can be included directly."
#endif

#ifndef ASYNCRT_MACROS_H
#define ASYNCRT_MACROS_H

/**
 * SECTION:macros
 * @title: Macros
 * @short_description: export, availability and C++ linkage macros
 *
 * Every public function is declared with an availability macro such as
 * %ASYNCRT_AVAILABLE_IN_0_1, which marks it as exported from the shared library
 * (the library itself is built with hidden visibility) and records the release
 * that introduced it.
 */

/**
 * ASYNCRT_BEGIN_DECLS:
 *
 * Opens an `extern "C"` block when compiled as C++; empty in C.
 */
/**
 * ASYNCRT_END_DECLS:
 *
 * Closes the block opened by %ASYNCRT_BEGIN_DECLS.
 */
#ifdef __cplusplus
#define ASYNCRT_BEGIN_DECLS extern "C" {
#define ASYNCRT_END_DECLS }
#else
#define ASYNCRT_BEGIN_DECLS
#define ASYNCRT_END_DECLS
#endif

/**
 * ASYNCRT_EXTERN:
 *
 * Declares a symbol exported from libasyncrt.  Use the versioned
 * %ASYNCRT_AVAILABLE_IN_0_1 instead.
 */
#if defined(ASYNCRT_CHECK_EXPORTS)
/* Used by the exported-symbol test to find every public declaration. */
#define ASYNCRT_EXTERN __asyncrt_exported__ extern
#elif defined(__GNUC__) || defined(__clang__)
#define ASYNCRT_EXTERN __attribute__((visibility ("default"))) extern
#else
#define ASYNCRT_EXTERN extern
#endif

/**
 * ASYNCRT_AVAILABLE_IN_0_1:
 *
 * Marks a public declaration that is available since libasyncrt 0.1.
 */
#if defined(ASYNCRT_CHECK_EXPORTS)
#define ASYNCRT_AVAILABLE_IN_0_1 __asyncrt_since_0_1__ ASYNCRT_EXTERN
#else
#define ASYNCRT_AVAILABLE_IN_0_1 ASYNCRT_EXTERN
#endif

/**
 * ASYNCRT_AVAILABLE_IN_0_2:
 *
 * Marks a public declaration that is available since libasyncrt 0.2.  Such
 * symbols carry the `ASYNCRT_0.2` symbol version.
 *
 * Since: 0.2
 */
#if defined(ASYNCRT_CHECK_EXPORTS)
#define ASYNCRT_AVAILABLE_IN_0_2 __asyncrt_since_0_2__ ASYNCRT_EXTERN
#else
#define ASYNCRT_AVAILABLE_IN_0_2 ASYNCRT_EXTERN
#endif

/**
 * ASYNCRT_WARN_UNUSED_RESULT:
 *
 * Makes the compiler warn when the result of a function is ignored.
 */
#if defined(__GNUC__) || defined(__clang__)
#define ASYNCRT_WARN_UNUSED_RESULT __attribute__((warn_unused_result))
#else
#define ASYNCRT_WARN_UNUSED_RESULT
#endif

#endif /* ASYNCRT_MACROS_H */
