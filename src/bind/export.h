/* export.h — forced (-include) into every object of libhyperc.so, which is
 * compiled with -fvisibility=hidden: the public headers are read here first,
 * under default visibility, so exactly the functions they declare are
 * exported (the version script $(BUILD)/hyperc.map, generated from the same
 * headers, says the same). Internal functions stay hidden. */
#pragma GCC visibility push(default)
#include "hyperc.h"
#include "hyperc_llm.h"
#include "hyperc_bind.h"
#pragma GCC visibility pop
