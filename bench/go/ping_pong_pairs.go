// Go reference for bench-runtime's ping_pong_pairs (Tokio's ping_pong shape): a
// goroutine starts 1,000 goroutines; each starts a partner, sends it one message on a
// channel of capacity 1 (Go's nearest to a oneshot channel) and waits for the answer
// on another; the last pair to finish signals.  Run with GOMAXPROCS=2 (make bench
// does).  Prints the median, the 90th percentile (nearest rank) and the best of 20
// rounds, per pair, as the C bench does.
package main

import (
	"fmt"
	"sort"
	"sync/atomic"
	"time"
)

const pairs = 1000
const rounds = 20

func round(done chan struct{}) time.Duration {
	var left int64 = pairs
	t0 := time.Now()
	go func() {
		for i := 0; i < pairs; i++ {
			go func() {
				ping := make(chan struct{}, 1)
				pong := make(chan struct{}, 1)
				go func() {
					<-ping
					pong <- struct{}{}
				}()
				ping <- struct{}{}
				<-pong
				if atomic.AddInt64(&left, -1) == 0 {
					done <- struct{}{}
				}
			}()
		}
	}()
	<-done
	return time.Since(t0)
}

func main() {
	done := make(chan struct{})
	round(done) // warm-up, as the C bench
	perPair := make([]float64, rounds)
	for r := 0; r < rounds; r++ {
		perPair[r] = float64(round(done).Nanoseconds()) / pairs
	}
	sort.Float64s(perPair)
	fmt.Printf("go_ping_pong_pairs_per_pair_median %.1f ns\n", perPair[(rounds-1)/2])
	fmt.Printf("go_ping_pong_pairs_per_pair_p90 %.1f ns\n", perPair[(rounds*9+9)/10-1])
	fmt.Printf("go_ping_pong_pairs_per_pair_best %.1f ns\n", perPair[0])
}
