from candleflow.cli import main

main()
