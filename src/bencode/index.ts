export { decode, decodePrefix, BDict, BencodeError, type BValue, type DecodeLimits } from './decode.js';
export { encode, type Encodable } from './encode.js';
export { FieldError, asBytes, asDict, asInt, asList, asString, optBytes, optDict, optInt, optList, optString } from './access.js';
