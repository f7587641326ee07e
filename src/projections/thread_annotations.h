// Clang thread-safety annotations (STYLE.md: locked members carry
// NEXUM_GUARDED_BY(mu_)); no-ops elsewhere. The same guarded definition as
// src/bus/thread_annotations.h, which this module may not include.
#pragma once

#ifndef NEXUM_GUARDED_BY
#if defined(__clang__)
#define NEXUM_GUARDED_BY(x) __attribute__((guarded_by(x)))
#else
#define NEXUM_GUARDED_BY(x)
#endif
#endif
