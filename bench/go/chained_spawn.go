// Go reference for bench-runtime's chained_spawn: each goroutine starts the next,
// 1,000 deep; the last one signals.  Run with GOMAXPROCS=2 (make bench does).  Prints
// `name value unit` lines: the best of 20 rounds, as the C harness does.
package main

import (
	"fmt"
	"time"
)

const depth = 1000
const rounds = 20

func iter(done chan<- struct{}, n int) {
	if n == 0 {
		done <- struct{}{}
		return
	}
	go iter(done, n-1)
}

func main() {
	done := make(chan struct{})
	best := time.Hour
	for r := 0; r < rounds; r++ {
		t0 := time.Now()
		go iter(done, depth)
		<-done
		if d := time.Since(t0); d < best {
			best = d
		}
	}
	fmt.Printf("go_chained_spawn %.1f us\n", float64(best.Nanoseconds())/1e3)
	fmt.Printf("go_chained_spawn_per_spawn %.1f ns\n", float64(best.Nanoseconds())/depth)
}
