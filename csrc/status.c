/* status.c - names of the status codes. */
#include "tr_contract.h" /* first: the contract holds whatever the flags */
#include "tinyreptile.h"

const char *tr_status_str(int status)
{
    switch (status) {
    case TR_OK:
        return "ok";
    case TR_ERR_NULL:
        return "a required pointer is NULL";
    case TR_ERR_SHAPE:
        return "a size is negative, or a product of sizes exceeds INT32_MAX";
    case TR_ERR_PARAM:
        return "a parameter is out of range (stride, dilation, padding mode, shift or similar)";
    case TR_ERR_LABEL:
        return "a class label is outside [0, classes)";
    case TR_ERR_OVERFLOW:
        return "the int32 accumulator could overflow: the kernel's depth precondition is violated";
    case TR_ERR_BUFFER:
        return "a caller-provided buffer or arena is too small or misaligned";
    case TR_ERR_MODEL:
        return "the model's layer table is inconsistent";
    case TR_ERR_FRAME:
        return "a wire frame is malformed (COBS, CRC or length)";
    case TR_ERR_PROTO:
        return "a protocol message is invalid or unexpected";
    default:
        return "unknown status code";
    }
}
