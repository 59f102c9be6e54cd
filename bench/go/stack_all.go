// Go reference for bench-dump's dump of 10,000 idle tasks at async depth 5:
// runtime.Stack(buf, true) (every goroutine's stack, formatted as text) over 10,000
// goroutines blocked 5 calls deep.  Run with GOMAXPROCS=2 (make bench does).  Prints
// `name value unit` lines: the median of 5 calls, the first after a warm-up one.
package main

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

const n = 10000
const repeat = 5

//go:noinline
func l5(wait <-chan struct{}, started *sync.WaitGroup) {
	started.Done()
	<-wait
}

//go:noinline
func l4(wait <-chan struct{}, started *sync.WaitGroup) { l5(wait, started) }

//go:noinline
func l3(wait <-chan struct{}, started *sync.WaitGroup) { l4(wait, started) }

//go:noinline
func l2(wait <-chan struct{}, started *sync.WaitGroup) { l3(wait, started) }

//go:noinline
func l1(wait <-chan struct{}, started *sync.WaitGroup) { l2(wait, started) }

func main() {
	wait := make(chan struct{})
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		go l1(wait, &started)
	}
	started.Wait()

	buf := make([]byte, 1<<20)
	stackAll := func() (time.Duration, int) {
		for {
			t0 := time.Now()
			k := runtime.Stack(buf, true)
			d := time.Since(t0)
			if k < len(buf) {
				return d, k
			}
			buf = make([]byte, 2*len(buf)) // too small: grow and time again
		}
	}
	stackAll() // warm-up (and buffer sizing)
	times := make([]float64, repeat)
	var size int
	for r := 0; r < repeat; r++ {
		d, k := stackAll()
		times[r] = float64(d.Nanoseconds()) / 1e6
		size = k
	}
	sort.Float64s(times)
	close(wait)
	fmt.Printf("go_stack_all_10000_depth5 %.2f ms\n", times[repeat/2])
	fmt.Printf("go_stack_all_10000_depth5_bytes %d bytes\n", size)
}
