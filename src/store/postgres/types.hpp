#pragma once

namespace invited::store::postgres {

// The PostgreSQL types the store sends and reads, by their fixed OIDs (pg_type.oid).
enum class Type : unsigned {
  kBool = 16,
  kBytea = 17,
  kInt8 = 20,
  kInt2 = 21,
  kInt4 = 23,
  kText = 25,
  kOid = 26,
  kVarchar = 1043,
  kUuid = 2950,
  kBoolArray = 1000,
  kByteaArray = 1001,
  kInt8Array = 1016,
  kTextArray = 1009,
  kUuidArray = 2951,
};

}  // namespace invited::store::postgres
