package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/fjord-io/fjord/store/pgembed"
)

func main() {
	for _, root := range []string{"/dev/shm", "/tmp"} {
		for i := 0; i < 3; i++ {
			dir, _ := os.MkdirTemp(root, "m-")
			t0 := time.Now()
			c, err := pgembed.Start(context.Background(), pgembed.Options{Dir: dir, Fast: true})
			if err != nil {
				panic(err)
			}
			d := time.Since(t0)
			c.Stop()
			t1 := time.Now()
			c, _ = pgembed.Start(context.Background(), pgembed.Options{Dir: dir, Fast: true})
			d2 := time.Since(t1)
			t2 := time.Now()
			c.Stop()
			fmt.Printf("%s new cluster %v, restart %v, stop %v\n", root, d.Round(time.Millisecond), d2.Round(time.Millisecond), time.Since(t2).Round(time.Millisecond))
			os.RemoveAll(dir)
		}
	}
}
