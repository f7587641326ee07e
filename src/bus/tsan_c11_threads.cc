// ThreadSanitizer builds only (-Db_sanitize=thread; see meson.build).
//
// Debian's librdkafka uses C11 threads (thrd_create, mtx_lock, cnd_wait,
// call_once from glibc ≥ 2.34), none of which GCC 12's libtsan intercepts:
// its threads are unknown to TSan (they crash on their first intercepted
// call) and its locks are invisible (every hand-off through a librdkafka
// queue looks like a race). Defining these functions in the executable
// interposes glibc's; routing them to the pthread functions TSan does
// intercept fixes both. This is exactly what glibc does internally: thrd_t is
// a pthread_t, mtx_t/cnd_t/once_flag have pthread_mutex_t/pthread_cond_t/
// pthread_once_t's layout, and a thread's int result travels as its void*
// exit value.
#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>

namespace {

struct Trampoline {
  thrd_start_t start;
  void* arg;
};

void* run_trampoline(void* p) {
  Trampoline t = *static_cast<Trampoline*>(p);
  delete static_cast<Trampoline*>(p);
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(t.start(t.arg)));
}

int thrd_result(int rc) {
  switch (rc) {
    case 0: return thrd_success;
    case ETIMEDOUT: return thrd_timedout;
    case EBUSY: return thrd_busy;
    case ENOMEM:
    case EAGAIN: return thrd_nomem;
    default: return thrd_error;
  }
}

pthread_mutex_t* native(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* native(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t));
static_assert(sizeof(once_flag) == sizeof(pthread_once_t));
static_assert(sizeof(thrd_t) == sizeof(pthread_t));

}  // namespace

extern "C" {

int thrd_create(thrd_t* thread, thrd_start_t start, void* arg) {
  auto* t = new Trampoline{start, arg};
  int rc = pthread_create(thread, nullptr, &run_trampoline, t);
  if (rc != 0) delete t;
  return thrd_result(rc);
}

int thrd_join(thrd_t thread, int* result) {
  void* value = nullptr;
  int rc = pthread_join(thread, &value);
  if (rc == 0 && result != nullptr) *result = static_cast<int>(reinterpret_cast<std::intptr_t>(value));
  return thrd_result(rc);
}

int mtx_init(mtx_t* mutex, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if ((type & mtx_recursive) != 0) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int rc = pthread_mutex_init(native(mutex), &attr);
  pthread_mutexattr_destroy(&attr);
  return thrd_result(rc);
}
int mtx_lock(mtx_t* mutex) { return thrd_result(pthread_mutex_lock(native(mutex))); }
int mtx_trylock(mtx_t* mutex) { return thrd_result(pthread_mutex_trylock(native(mutex))); }
int mtx_unlock(mtx_t* mutex) { return thrd_result(pthread_mutex_unlock(native(mutex))); }
void mtx_destroy(mtx_t* mutex) { pthread_mutex_destroy(native(mutex)); }

int cnd_init(cnd_t* cond) { return thrd_result(pthread_cond_init(native(cond), nullptr)); }
int cnd_signal(cnd_t* cond) { return thrd_result(pthread_cond_signal(native(cond))); }
int cnd_broadcast(cnd_t* cond) { return thrd_result(pthread_cond_broadcast(native(cond))); }
int cnd_wait(cnd_t* cond, mtx_t* mutex) { return thrd_result(pthread_cond_wait(native(cond), native(mutex))); }
int cnd_timedwait(cnd_t* cond, mtx_t* mutex, const struct timespec* deadline) {
  return thrd_result(pthread_cond_timedwait(native(cond), native(mutex), deadline));
}
void cnd_destroy(cnd_t* cond) { pthread_cond_destroy(native(cond)); }

void call_once(once_flag* flag, void (*func)(void)) { pthread_once(reinterpret_cast<pthread_once_t*>(flag), func); }

}  // extern "C"
