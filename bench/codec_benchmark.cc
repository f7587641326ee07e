// JSON envelope codec: encode / decode of a seed-shaped transaction_created
// event, against boost::json doing the same job on an equivalent value.
// Results: bench/RESULTS.md ("Codec").
#include <string>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include "nexum/json_codec.h"

namespace nexum {
namespace {

namespace json = boost::json;

// The seed's transaction_created, as NexumEventPublisher builds it.
EventSchema transaction_created() {
  EventSchema e;
  e.event_id = *EventId::parse("0190a5c4-7b1e-7c3d-9f00-0123456789ab");
  e.event_type = "transaction_created";
  e.timestamp = Timestamp(std::chrono::microseconds(1767323045123456));  // 2026-01-02T03:04:05.123456Z
  e.entity_type = "transaction";
  e.entity_id = "txn_8f14e45fceea167a5a36dedd4bea2543";
  e.data = {{"transaction_type", "transfer_internal"},
            {"amount", "100.50"},
            {"currency", "USD"},
            {"from_account_id", "acc_c9f0f895fb98ab9159f51fd0297e236d"},
            {"to_account_id", "acc_45c48cce2e2d7fbdea1afc51c7c6ad26"},
            {"description", "Rent payment for January"},
            {"reference", "TRANSFER_INTERNAL-8f14e45f"}};
  e.metadata = {{"correlation_id", "corr_d3d9446802a44259755d38e6d163e820"}, {"user_id", "user_456"}};
  return e;
}

// What the same envelope looks like as a boost::json value (strings already
// formatted): the baseline does only serialization.
json::object as_boost_object(const EventSchema& e) {
  return {{"event_id", e.event_id.to_string()},
          {"event_type", e.event_type},
          {"timestamp", format_timestamp(e.timestamp)},
          {"source", e.source},
          {"version", e.version},
          {"entity_type", e.entity_type},
          {"entity_id", e.entity_id},
          {"data", e.data},
          {"metadata", e.metadata}};
}

void BM_EncodeTransactionCreated(benchmark::State& state) {
  const EventSchema e = transaction_created();
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string out = encode_event_json(e);
    bytes += out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_EncodeTransactionCreated);

void BM_EncodeFromView(benchmark::State& state) {
  const EventSchema e = transaction_created();
  const std::string data_json = serialize_payload(e.data);
  const std::string metadata_json = serialize_payload(e.metadata);
  const EnvelopeView view{e.event_id,    e.event_type, e.timestamp, e.source,     e.version,
                          e.entity_type, e.entity_id,  data_json,   metadata_json};
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string out;
    encode_event_json(view, out);
    bytes += out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_EncodeFromView);

void BM_BoostJsonSerializeBaseline(benchmark::State& state) {
  const json::object obj = as_boost_object(transaction_created());
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string out = json::serialize(obj);
    bytes += out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_BoostJsonSerializeBaseline);

void BM_DecodeTransactionCreated(benchmark::State& state) {
  const std::string text = encode_event_json(transaction_created());
  for (auto _ : state) {
    Result<EventSchema> e = decode_event_json(text);
    if (!e.has_value()) {
      state.SkipWithError(e.error().to_string().c_str());
      break;
    }
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_DecodeTransactionCreated);

// Baseline for decode: boost::json::parse of the same bytes into a value
// (no validation of the envelope, no UUID or timestamp parsing).
void BM_BoostJsonParseBaseline(benchmark::State& state) {
  const std::string text = encode_event_json(transaction_created());
  for (auto _ : state) {
    json::value v = json::parse(text);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_BoostJsonParseBaseline);

}  // namespace
}  // namespace nexum

BENCHMARK_MAIN();
