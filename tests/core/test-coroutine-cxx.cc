// The coroutine tests compiled as C++: the macros must work there too.
#include <cstring>
using std::memset;
#include "test-coroutine.c"
