from lowent.cli import main

raise SystemExit(main())
