# The stored form of one event: the value under its global position in the
# `log` column family. Described in doc/record_format.md; change only by
# adding fields (Cap'n Proto keeps old readers and writers compatible).
@0xb8206821e418e1ee;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("nexum::store::schema");

struct EventRecord {
  globalPosition @0 :Int64;   # equals the record's key
  streamVersion @1 :Int64;    # 0-based version within `stream`
  timestampMicros @2 :Int64;  # envelope timestamp, UTC microseconds since the Unix epoch
  eventId @3 :Data;           # 16 bytes, RFC 9562 byte order
  stream @4 :Text;
  topic @5 :Text;
  eventType @6 :Text;
  source @7 :Text;
  version @8 :Text;
  entityType @9 :Text;        # empty = JSON null
  entityId @10 :Text;         # empty = JSON null
  dataJson @11 :Text;         # the payload object, serialized JSON
  metadataJson @12 :Text;     # the metadata object, serialized JSON
}
