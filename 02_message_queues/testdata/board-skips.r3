last
