from hts_realtime.cli import main

raise SystemExit(main())
