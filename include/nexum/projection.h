// Projection: folds the global log into a read model (doc/design.md §4.8).
//
// A projection names itself, says which events it wants (an EventFilter),
// and applies each one to a ReadModelWrites. The ProjectionEngine
// (projection_engine.h) commits the staged writes together with the
// projection's checkpoint in one atomic write, so every event's effect is
// in the read model exactly once. Guarantees and key layout: doc/projections.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "nexum/status.h"
#include "nexum/store.h"

namespace nexum {

// What the engine does when apply() fails (returns non-OK or throws).
enum class FailurePolicy : std::uint8_t {
  // Stop this projection in the error state, with the failing position and
  // the reason; its checkpoint stays just before the failing event. Others
  // keep running. The default.
  kStop,
  // Record the event as parked (position and reason, durably, in the same
  // commit) and continue with the next one. Parked events can be listed and
  // retried (ProjectionEngine::parked / retry_parked).
  kPark,
};

// A read-model value held in a projection's own typed form instead of as a
// JSON DOM. The engine keeps it between events and batches (like a parsed
// JSON value) and serializes it once, when the batch commits: a key changed
// by many events costs a few field assignments per event rather than DOM
// lookups, string copies and formatting. Why and when: doc/projections.md.
//
// Thread-compatible: used only on the thread that calls Projection::apply().
class ReadModelValue {
 public:
  virtual ~ReadModelValue() = default;
  // False: the key holds nothing (erased when the batch commits).
  virtual bool present() const = 0;
  // Appends the JSON text stored under the key. REQUIRES: present().
  virtual void append_json(std::string& out) const = 0;
};

// Makes the typed value of `key` from its stored JSON text (nullopt: the key
// is absent; the result should then say present() == false). DataLoss when
// the text is not what the projection stores. A decoder also names the type:
// ReadModelWrites::modify_as<T> uses &T::decode.
using ReadModelDecoder = Result<std::unique_ptr<ReadModelValue>> (*)(std::string_view key,
                                                                     std::optional<std::string_view> stored);

// The read model as one projection sees it while applying an event: its
// own keys only (the engine adds the "{projection name}/" prefix), with the
// writes staged by earlier events of the same uncommitted batch visible.
//
// Values are JSON; a null value means "absent". Reads are served from
// staged writes, then a per-projection cache, then the store.
//
// Thread-compatible: used only on the thread that calls Projection::apply().
class ReadModelWrites {
 public:
  virtual ~ReadModelWrites() = default;

  // The value stored under `key`, or nullptr when there is none.
  // The pointer is valid until apply() returns.
  virtual Result<const boost::json::value*> get(std::string_view key) = 0;

  // Read-modify-write: the value under `key` (a null value when absent),
  // to be changed in place; whatever it holds when the batch commits is
  // written (left null, the key is erased). Valid until apply() returns.
  virtual Result<boost::json::value*> modify(std::string_view key) = 0;

  // Stages `value` under `key` (null erases).
  virtual Status put(std::string_view key, boost::json::value value) = 0;

  // Stages the removal of `key`.
  virtual Status erase(std::string_view key) = 0;

  // Typed read-modify-write (ReadModelValue): the value under `key` as
  // `decode` made it from the stored JSON the first time the key was read,
  // with the changes of earlier events; whatever it holds when the batch
  // commits is written (present() == false erases). A key read with another
  // decoder, or through get()/modify()/put(), is converted through its JSON
  // text (correct, but slow: keep one form per key). Valid until apply() returns.
  virtual Result<ReadModelValue*> modify_value(std::string_view key, ReadModelDecoder decode) = 0;
  // As modify_value(), without staging a write.
  virtual Result<const ReadModelValue*> get_value(std::string_view key, ReadModelDecoder decode) = 0;

  // modify_value()/get_value() with T::decode, a static ReadModelDecoder
  // that makes a T.
  template <class T>
  Result<T*> modify_as(std::string_view key) {
    auto v = modify_value(key, &T::decode);
    if (!v) return v.error();
    return static_cast<T*>(*v);
  }
  template <class T>
  Result<const T*> get_as(std::string_view key) {
    auto v = get_value(key, &T::decode);
    if (!v) return v.error();
    return static_cast<const T*>(*v);
  }
};

// A read model fed by the global log.
//
// REQUIRES of implementations: apply() is deterministic — the same event
// applied to the same read model stages the same writes. The engine relies
// on it after a failure (it re-applies the rest of the uncommitted batch)
// and on every rebuild. Keep no state outside ReadModelWrites; what lives
// only in memory is not committed with the checkpoint.
//
// Thread-compatible: the engine calls apply() and reset() from one thread
// at a time (the projection's subscription thread, or a retry caller
// serialized with it).
class Projection {
 public:
  virtual ~Projection() = default;

  // Unique per engine: 1-128 characters of [A-Za-z0-9_.-]. Also the
  // prefix of its keys in the read-model store and its checkpoint name.
  virtual std::string_view name() const = 0;

  // The events apply() receives; the checkpoint advances past the others
  // too. Default: every event.
  virtual EventFilter filter() const { return {}; }

  // Stages the event's effect. A non-OK status (or an exception) is a
  // failure handled per failure_policy(); whatever this call staged is
  // discarded.
  virtual Status apply(const EventView& event, ReadModelWrites& writes) = 0;

  // Called by a rebuild after the projection's keys are dropped and before
  // replay starts. Default: nothing.
  virtual void reset() {}

  // Default: kStop.
  virtual FailurePolicy failure_policy() const { return FailurePolicy::kStop; }
};

}  // namespace nexum
