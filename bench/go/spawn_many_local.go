// Go reference for bench-runtime's spawn_many_local: from inside a goroutine, start
// 10,000 goroutines that do nothing but signal their end, and wait for all of them.
// Run with GOMAXPROCS=2 (make bench does).  Prints `name value unit` lines: the best
// of 20 rounds, as the C harness does.
package main

import (
	"fmt"
	"sync"
	"time"
)

const n = 10000
const rounds = 20

func round() time.Duration {
	done := make(chan time.Duration)
	go func() { // the spawner is a goroutine, as the C bench's is a task
		t0 := time.Now()
		var wg sync.WaitGroup
		wg.Add(n)
		for i := 0; i < n; i++ {
			go wg.Done()
		}
		wg.Wait()
		done <- time.Since(t0)
	}()
	return <-done
}

func main() {
	best := time.Hour
	for r := 0; r < rounds; r++ {
		if d := round(); d < best {
			best = d
		}
	}
	fmt.Printf("go_spawn_many_local %.1f us\n", float64(best.Nanoseconds())/1e3)
	fmt.Printf("go_spawn_many_local_per_task %.1f ns\n", float64(best.Nanoseconds())/n)
}
