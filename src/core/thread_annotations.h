// Clang thread-safety annotations (STYLE.md: locked members carry
// NEXUM_GUARDED_BY(mu_)), for every module. No-ops for compilers without
// the attribute.
#pragma once

#ifndef NEXUM_GUARDED_BY
#if defined(__clang__)
#define NEXUM_GUARDED_BY(x) __attribute__((guarded_by(x)))
#else
#define NEXUM_GUARDED_BY(x)
#endif
#endif
