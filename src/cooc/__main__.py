from cooc.cli.main import main

raise SystemExit(main())
