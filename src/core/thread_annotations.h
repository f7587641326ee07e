// Clang thread-safety annotations (doc/style.md: locked members carry
// NEXUM_GUARDED_BY(mu_)), for every module, and checked by the clang build
// (`./dev test --clang`: -Wthread-safety -Werror=thread-safety). No-ops for
// other compilers. The lockable type is nexum::Mutex (core/mutex.h): the
// analysis only understands types that carry these attributes.
#pragma once

#if defined(__clang__)
#define NEXUM_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define NEXUM_THREAD_ANNOTATION_(x)
#endif

// A member read or written only with the capability held.
#define NEXUM_GUARDED_BY(x) NEXUM_THREAD_ANNOTATION_(guarded_by(x))
// The data a pointer member points to is guarded by the capability.
#define NEXUM_PT_GUARDED_BY(x) NEXUM_THREAD_ANNOTATION_(pt_guarded_by(x))
// A function the caller must call with the capability held / not held.
#define NEXUM_REQUIRES(...) NEXUM_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define NEXUM_EXCLUDES(...) NEXUM_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
// A function that acquires / releases the capability (itself when empty).
#define NEXUM_ACQUIRE(...) NEXUM_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define NEXUM_RELEASE(...) NEXUM_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define NEXUM_ACQUIRE_SHARED(...) NEXUM_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define NEXUM_RELEASE_SHARED(...) NEXUM_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
#define NEXUM_REQUIRES_SHARED(...) NEXUM_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))
#define NEXUM_TRY_ACQUIRE(...) NEXUM_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
// Tells the analysis the capability is held here (checked at run time by the callee, if at all).
#define NEXUM_ASSERT_CAPABILITY(x) NEXUM_THREAD_ANNOTATION_(assert_capability(x))
// A type that is a lock, and an RAII type that holds one.
#define NEXUM_CAPABILITY(x) NEXUM_THREAD_ANNOTATION_(capability(x))
#define NEXUM_SCOPED_CAPABILITY NEXUM_THREAD_ANNOTATION_(scoped_lockable)
// A function returning a reference to the capability.
#define NEXUM_RETURN_CAPABILITY(x) NEXUM_THREAD_ANNOTATION_(lock_returned(x))
// Opts one function out of the analysis; say why beside it.
#define NEXUM_NO_THREAD_SAFETY_ANALYSIS NEXUM_THREAD_ANNOTATION_(no_thread_safety_analysis)
