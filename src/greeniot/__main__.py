from greeniot.cli import main

main()
